"""Production smoke test without Docker (issue 9).

gunicorn (2 workers) with STYLELICENSE_ENV=production on the machine's PostgreSQL, RabbitMQ and
Redis, an S3-compatible server (moto) on loopback, a training and an inference worker as separate
processes, and Debian's nginx terminating TLS in front. Everything a user does goes through nginx:
Google login (the fake OIDC provider; dev login is refused), buying tokens against the fake Toss,
training a style, generating an image and reading it from the public location. The anonymous rate
limit holds across both gunicorn workers because they share Redis.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import ROOT, wait_for
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.fakes.s3_server import FakeS3
from tests.fakes.toss_server import FakeToss

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Toss refuses test keys in production; the fake accepts whatever it is given ("live"-looking keys).
LIVE_SECRET = "live" + "_sk_" + "smoke0000000000000000"
LIVE_CLIENT = "live" + "_ck_" + "smoke0000000000000000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _self_signed(tmp: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 → (ca, cert chain, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Style License smoke CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def _nginx_conf(tmp: Path, port: int, upstream: int, cert: Path, key: Path) -> Path:
    dist = ROOT / "frontend" / "dist"
    conf = tmp / "nginx.conf"
    # As root, nginx's workers would drop to www-data and could not use pytest's private tmp folder.
    user = "user root root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include /etc/nginx/mime.types;
    upstream api {{ server 127.0.0.1:{upstream}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        client_max_body_size 200m;
        root {dist};
        location ~ ^/(api/|media/|healthz|readyz) {{
            proxy_pass http://api;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host:$server_port;
            proxy_set_header X-Request-ID $request_id;
        }}
        location / {{ try_files $uri /index.html =404; }}
    }}
}}
""")
    return conf


class Processes:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append((name, process))
        return process

    def logs(self) -> str:
        nginx = self.tmp / "nginx-error.log"
        parts = [nginx.read_text(errors="replace")[-2000:] if nginx.exists() else ""]
        for name, _ in self.running:
            parts.append(f"--- {name}\n{(self.tmp / f'{name}.log').read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for _, process in reversed(self.running):
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for _, process in self.running:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


def _png(width=600, height=600, seed=0) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def stack(database_url, rabbitmq_url, tmp_path):
    assert Path(NGINX).exists(), "Debian's nginx is required (.ci/run installs nginx-light)"
    import redis

    redis_db = random.randrange(2, 15)
    redis.Redis(host="127.0.0.1", port=6379, db=redis_db).flushdb()
    processes = Processes(tmp_path)
    with FakeS3() as s3, FakeOIDCProvider() as google, FakeToss(secret_key=LIVE_SECRET, client_key=LIVE_CLIENT) as toss:
        s3.create_bucket("sl-smoke")
        # As an operator does once: anyone may read <prefix>/public/*, nothing else (docs/DEPLOYMENT.md).
        import boto3

        from stylelicense.storage import S3Storage

        client = boto3.client("s3", **s3.client_kwargs())
        storage = S3Storage("sl-smoke", "prod", client=client, endpoint_url=s3.endpoint_url)
        client.put_bucket_policy(Bucket="sl-smoke", Policy=json.dumps(storage.public_read_policy()))
        api_port, nginx_port = _free_port(), _free_port()
        public = f"https://127.0.0.1:{nginx_port}"
        env = {
            **os.environ,
            **s3.env(),
            "STYLELICENSE_ENV": "production",
            "SECRET_KEY": "smoke-secret-key-" + "s" * 20,
            "INTERNAL_API_TOKEN": "smoke-internal-token-" + "t" * 20,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": rabbitmq_url,
            "STORAGE_URL": "s3://sl-smoke/prod",
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:6379/{redis_db}",
            "API_BASE_URL": f"http://127.0.0.1:{api_port}",
            "PUBLIC_BASE_URL": public,
            "GOOGLE_CLIENT_ID": google.client_id,
            "GOOGLE_CLIENT_SECRET": google.client_secret,
            "GOOGLE_METADATA_URL": google.metadata_url,
            "TOSS_CLIENT_KEY": LIVE_CLIENT,
            "TOSS_SECRET_KEY": LIVE_SECRET,
            "TOSS_API_BASE": toss.base_url,
            "TRAINING_MAX_STEPS": "4",
            "STYLELICENSE_BASE_MODEL": "tiny",
            "STYLELICENSE_INSTANCE": str(tmp_path / "instance"),
            "HF_HUB_OFFLINE": "1",
        }
        env.pop("STYLELICENSE_DEV_LOGIN", None)
        ca, cert, key = _self_signed(tmp_path)
        # Provenance secrets production requires: the watermark key and our C2PA signing chain.
        from stylelicense.provenance.c2pa_manifest import generate_dev_chain

        chain = generate_dev_chain(tmp_path / "c2pa")
        env.update(
            {
                "WATERMARK_KEY": "smoke-watermark-key-" + "w" * 24,
                "C2PA_SIGNING_KEY_PATH": str(chain.signing_key),
                "C2PA_CERT_CHAIN_PATH": str(chain.cert_chain),
                "C2PA_TRUST_ANCHORS_PATH": str(chain.root_cert),
            }
        )
        try:
            processes.start(
                "gunicorn",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    "2",
                    "-b",
                    f"127.0.0.1:{api_port}",
                    "--forwarded-allow-ips",
                    "127.0.0.1",
                    "wsgi:app",
                ],
                env,
            )
            processes.start(
                "worker-training",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers",
                    "worker",
                    "-Q",
                    "model_training",
                    "-c",
                    "1",
                    "-n",
                    "smoke-train@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                env,
            )
            processes.start(
                "worker-inference",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers",
                    "worker",
                    "-Q",
                    "image_generation",
                    "-c",
                    "1",
                    "-n",
                    "smoke-infer@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                env,
            )
            processes.start(
                "nginx",
                [NGINX, "-c", str(_nginx_conf(tmp_path, nginx_port, api_port, cert, key)), "-p", str(tmp_path)],
                env,
            )
            session = requests.Session()
            session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify`
            session.verify = str(ca)
            # Flask-WTF checks the Referer on HTTPS (same-origin), as a browser on the SPA sends it.
            session.headers["Referer"] = f"{public}/"

            last: list[str] = []

            def ready():
                try:
                    response = session.get(f"{public}/readyz", timeout=5)
                    last[:] = [f"{response.status_code} {response.text[:300]}"]
                    return response.status_code == 200
                except requests.RequestException as error:
                    last[:] = [repr(error)]
                    return False

            try:
                wait_for(ready, timeout=90, message="gunicorn behind nginx to be ready")
            except AssertionError:
                nginx_errors = (
                    (tmp_path / "nginx-error.log").read_text(errors="replace")[-2000:]
                    if (tmp_path / "nginx-error.log").exists()
                    else ""
                )
                raise AssertionError(f"last /readyz: {last}\nnginx: {nginx_errors}\n{processes.logs()}") from None
            yield {
                "url": public,
                "session": session,
                "google": google,
                "toss": toss,
                "s3": s3,
                "cert": ca,
                "processes": processes,
                "redis_db": redis_db,
            }
        finally:
            processes.stop()


def test_production_stack_end_to_end(stack):
    url, session, google, toss = stack["url"], stack["session"], stack["google"], stack["toss"]
    processes = stack["processes"]
    # Security headers from the production profile, through nginx.
    health = session.get(f"{url}/healthz")
    assert health.headers["Strict-Transport-Security"].startswith("max-age=")

    # Dev login does not exist in production.
    csrf = session.get(f"{url}/api/auth/csrf").json()["data"]["csrf_token"]
    refused = session.post(
        f"{url}/api/auth/dev-login", json={"email": "a@b.c", "username": "abc"}, headers={"X-CSRFToken": csrf}
    )
    assert refused.status_code == 404, refused.text

    # Google login through the loopback OIDC provider (state, nonce, PKCE), ending on the SPA.
    google.next_user = {
        "sub": "smoke-artist",
        "email": "artist@smoke.example",
        "name": "Smoke Artist",
        "email_verified": True,
    }
    landing = session.get(f"{url}/api/auth/google/login")
    assert landing.status_code == 200 and landing.url.rstrip("/") == url
    session_cookie = next(c for c in session.cookies if c.name == "session")
    assert session_cookie.secure
    me = session.get(f"{url}/api/auth/me").json()["data"]
    assert me["token_balance"] == 100

    def csrf_headers():
        return {"X-CSRFToken": session.get(f"{url}/api/auth/csrf").json()["data"]["csrf_token"]}

    # Buy tokens against the fake Toss: create the order, "check out", confirm on the server.
    order = session.post(f"{url}/api/tokens/purchase", json={"package_id": "basic_100"}, headers=csrf_headers()).json()[
        "data"
    ]
    assert order["client_key"] == LIVE_CLIENT
    payment_key = toss.create_checkout(order["order_id"], order["amount"])
    confirmed = session.post(
        f"{url}/api/tokens/purchase/confirm",
        headers=csrf_headers(),
        json={"payment_key": payment_key, "order_id": order["order_id"], "amount": order["amount"]},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["data"]["token_balance"] == 200

    # Become an artist and train a style on the training worker.
    upgraded = session.post(
        f"{url}/api/users/me/upgrade-to-artist",
        headers=csrf_headers(),
        data={"artist_name": "Smoke Artist", "contact_email": "artist@smoke.example"},
        files={"signature_image": ("sig.png", _png(300, 120, seed=99), "image/png")},
    )
    assert upgraded.status_code == 200, upgraded.text
    files = [("images", (f"art{i}.png", _png(seed=i), "image/png")) for i in range(10)]
    created = session.post(
        f"{url}/api/styles",
        headers=csrf_headers(),
        files=files,
        data={
            "title": "Smoke Colors",
            "description": "smoke test",
            "generation_cost_tokens": "25",
            "image_tags": json.dumps([["abstract", "color"]] * 10),
        },
    )
    assert created.status_code == 201, created.text + processes.logs()
    style_id = created.json()["data"]["id"]

    def style_status():
        status = session.get(f"{url}/api/styles/{style_id}").json()["data"]["training_status"]
        return status if status in ("completed", "failed") else None

    try:
        assert wait_for(style_status, timeout=300, interval=2, message="training") == "completed"
    except AssertionError:
        raise AssertionError(processes.logs()) from None

    # Generate on the inference worker; the signed image is readable at its public location.
    generation = session.post(
        f"{url}/api/generations",
        headers=csrf_headers(),
        json={"style_id": style_id, "prompt_tags": ["portrait"], "aspect_ratio": "1:1", "seed": 7},
    )
    assert generation.status_code in (200, 201), generation.text
    generation_id = generation.json()["data"]["id"]

    def generation_done():
        data = session.get(f"{url}/api/generations/{generation_id}").json()["data"]
        return data if data["status"] in ("completed", "failed") else None

    try:
        done = wait_for(generation_done, timeout=300, interval=2, message="generation")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    assert done["status"] == "completed", (done, (processes.tmp / "worker-inference.log").read_text()[-4000:])
    # A private image (the default): a presigned, expiring URL of the private location…
    assert "/prod/private/" in done["result_url"] and "X-Amz-Signature=" in done["result_url"]
    image = requests.get(done["result_url"], timeout=10)
    assert image.status_code == 200, done["result_url"]
    assert "private" in image.headers.get("Cache-Control", "")
    # …while the private location is not readable without the signature.
    private = requests.get(done["result_url"].split("?", 1)[0], timeout=10)
    assert private.status_code in (403, 404)
    assert Image.open(io.BytesIO(image.content)).size == (512, 512)
    assert session.get(f"{url}/api/auth/me").json()["data"]["token_balance"] == 175

    # The anonymous limit (50/min per IP) is one budget for both gunicorn workers: with per-process
    # memory counters, 100 requests spread over two workers would get far more than 50 answers.
    anonymous = requests.Session()
    anonymous.trust_env = False
    anonymous.verify = str(stack["cert"])
    statuses = [anonymous.get(f"{url}/api/styles", headers={"Connection": "close"}).status_code for _ in range(100)]
    first_limited = statuses.index(429)
    assert set(statuses[:first_limited]) == {200} and set(statuses[first_limited:]) == {429}
    # A few anonymous calls (login pages, CSRF) already used part of this minute's budget.
    assert 40 <= first_limited <= 50
    limited = anonymous.get(f"{url}/api/styles")
    assert limited.json()["error"]["code"] == "RATE_LIMITED" and int(limited.headers["Retry-After"]) > 0
    # The counters live in Redis (not in each worker's memory), so the limit is global.
    import redis

    keys = redis.Redis(host="127.0.0.1", port=6379, db=stack["redis_db"]).keys("LIMITS*")
    assert keys, "rate-limit counters are not in Redis"
