from stylelicense import create_app

app = create_app()
