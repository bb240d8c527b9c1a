"""Names of the load bench's requests, shared by bench/load_bench.py (which prints them) and
bench/locustfile.py (which sends them); no locust import here (it patches the process it loads in)."""

# The mix's requests as locust names them, in the order the bench prints them.
ORDER = [
    "feed",
    "feed next page",
    "styles recent",
    "styles popular",
    "search",
    "style page",
    "profile",
    "me",
    "notifications",
    "balance",
    "my generations",
    "like",
    "unlike",
]

# Each request measured alone: name → (who asks: a user class of the locustfile, the task that asks).
ALONE = {
    "feed": ("Visitor", "feed"),
    "feed, signed in": ("SignedIn", "feed"),
    "styles recent": ("Visitor", "styles_recent"),
    "styles popular": ("Visitor", "styles_popular"),
    "search": ("Visitor", "search"),
    "style page": ("Visitor", "style_page"),
    "profile": ("Visitor", "profile"),
    "me": ("SignedIn", "me"),
    "notifications": ("SignedIn", "notifications"),
    "balance": ("SignedIn", "balance"),
    "my generations": ("SignedIn", "my_generations"),
    "like + unlike": ("SignedIn", "like_unlike"),
}
