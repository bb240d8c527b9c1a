"""The floor of the load bench: a trivial Flask JSON endpoint, served with the same gunicorn
settings as the API, so the bench can say what one API request costs relative to the framework."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/api/ping")
def ping():
    return jsonify({"success": True, "data": {"pong": True}})
