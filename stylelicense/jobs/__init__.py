"""Jobs: payload types and task names (:mod:`.payloads`, shared with the workers, Flask-free) and the
API's enqueue client (:mod:`.client`). Kept empty so a worker importing the payloads never imports Flask."""
