"""Webhooks against a real HTTP receiver on loopback that checks signatures the way a Standard
Webhooks consumer does: a target that fails then recovers gets the message once; retries back off;
private targets are refused; a second DNS answer cannot move the connection (DNS rebinding);
timeouts are attempt errors; endpoints' secrets are shown once."""
import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import select

from app.models import WebhookDelivery, utcnow
from app.services.orchestration import relay
from app.services.orchestration import webhook_targets
from app.services.orchestration import webhooks
from app.services.orchestration import work_items
from app.services.platform.errors import Forbidden, ValidationFailed
from app.services.platform.events import example_payload
from app.services.platform.outbox import emit_event
from app.schemas.automation import EndpointIn
from app.schemas.workflow import TaskIn

HX = {"HX-Request": "true"}


class Receiver:
    """A webhook consumer: verifies each request's signature with the endpoint's secret, answers
    500 to the first `fail_first` valid requests, then 204; can hang until released."""

    def __init__(self):
        self.secret = ""
        self.fail_first = 0
        self.status = 204
        self.hang = threading.Event()
        self.hang.set()
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                receiver.hang.wait(10)
                valid = receiver.verify(self.headers, body)
                with receiver.lock:
                    failing = valid and len([r for r in receiver.requests if r["valid"]]) < receiver.fail_first
                    status = 401 if not valid else 500 if failing else receiver.status
                    receiver.requests.append({"id": self.headers["webhook-id"], "valid": valid, "status": status,
                                              "host": self.headers["Host"], "body": json.loads(body)})
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/fieldflow"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verify(self, headers, body: str) -> bool:
        msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp", "0")
        if not msg_id or abs(time.time() - int(timestamp)) > 300:  # replay window, as consumers enforce
            return False
        key = base64.b64decode(self.secret.split("_", 1)[1])
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest())
        return any(hmac.compare_digest(sig.split(",", 1)[1].encode(), expected)
                   for sig in headers.get("webhook-signature", "").split() if sig.startswith("v1,"))

    @property
    def delivered(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]


@pytest.fixture
def receiver(app):
    app.config.update(WEBHOOK_ALLOWED_HOSTS=["127.0.0.1"], WEBHOOK_RETRY_SECONDS=5, WEBHOOK_MAX_ATTEMPTS=4)
    r = Receiver()
    r.thread.start()
    yield r
    r.hang.set()
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def admin(make_user):
    return make_user("admin", ["Project A"], username="root")


@pytest.fixture
def dns(monkeypatch):
    """A resolver for hooks.example.test: the list holds its answers, one per lookup, the last one
    repeating. Other names resolve as usual."""
    real_getaddrinfo = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example.test":
            host = answers.pop(0) if len(answers) > 1 else answers[0]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def endpoint_for(user, receiver, **extra):
    endpoint, secret = webhooks.create_endpoint(user, EndpointIn(**{"name": "Receiver", "url": receiver.url,
                                                                    "event_types": ["TaskCreated"], **extra}))
    receiver.secret = secret
    return endpoint


def delivery_rows(db):
    db.session.expire_all()
    return db.session.execute(select(WebhookDelivery)).scalars().all()


def test_failing_target_that_recovers_gets_the_message_once(receiver, admin, db, caplog):
    caplog.set_level(logging.DEBUG)
    endpoint_for(admin, receiver)
    receiver.fail_first = 2
    task = work_items.create_task(admin, TaskIn(title="Cold room check", task_type="general", priority="high"))
    relay.relay_outbox()
    relay.relay_outbox()  # a second pass queues nothing new
    (delivery,) = delivery_rows(db)
    assert delivery.status == "pending" and delivery.event_type == "TaskCreated"

    t0 = utcnow()
    assert webhooks.deliver_due(now=t0) == {"delivered": 0, "retrying": 1, "dead": 0}
    (delivery,) = delivery_rows(db)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=5) and delivery.last_error.startswith("HTTP 500")
    assert webhooks.deliver_due(now=t0 + timedelta(seconds=4)) == {"delivered": 0, "retrying": 0, "dead": 0}
    assert webhooks.deliver_due(now=t0 + timedelta(seconds=6)) == {"delivered": 0, "retrying": 1, "dead": 0}
    (delivery,) = delivery_rows(db)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=6 + 10)  # backoff doubles
    assert webhooks.deliver_due(now=t0 + timedelta(seconds=17)) == {"delivered": 1, "retrying": 0, "dead": 0}
    assert webhooks.deliver_due(now=t0 + timedelta(hours=2)) == {"delivered": 0, "retrying": 0, "dead": 0}

    (delivery,) = delivery_rows(db)
    assert delivery.status == "delivered" and delivery.attempts == 3 and delivery.last_error is None
    assert [r["status"] for r in receiver.requests] == [500, 500, 204]
    assert all(r["valid"] for r in receiver.requests) and {r["id"] for r in receiver.requests} == {delivery.id}
    assert len(receiver.delivered) == 1
    assert receiver.delivered[0]["body"]["type"] == "TaskCreated"
    assert receiver.delivered[0]["body"]["data"]["task_id"] == task.id
    assert [(a.number, a.status_code) for a in webhooks.delivery_attempts(delivery)] == [(1, 500), (2, 500), (3, 204)]
    assert receiver.secret not in caplog.text


def test_private_targets_are_refused_on_save_and_on_send(app, receiver, admin, db):
    app.config["WEBHOOK_ALLOWED_HOSTS"] = []
    for url in (receiver.url, "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                "http://100.64.0.7/hook", "http://[::ffff:192.168.1.1]/hook", "ftp://93.184.216.34/hook"):
        with pytest.raises(ValidationFailed) as exc:
            webhooks.create_endpoint(admin, EndpointIn(name="Bad", url=url))
        assert "url" in exc.value.details, url
    assert "private, loopback" in webhooks.check_target("http://10.1.2.3/hook")
    assert webhooks.check_target("https://93.184.216.34/hook") is None

    app.config["WEBHOOK_ALLOWED_HOSTS"] = ["127.0.0.1"]
    endpoint_for(admin, receiver)
    app.config["WEBHOOK_ALLOWED_HOSTS"] = []  # the allowlist changed after the endpoint was saved
    work_items.create_task(admin, TaskIn(title="T", task_type="general"))
    relay.relay_outbox()
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 0, "dead": 1}
    (delivery,) = delivery_rows(db)
    assert delivery.status == "dead" and "target refused: 127.0.0.1 resolves to 127.0.0.1" in delivery.last_error
    assert receiver.requests == []


# A public answer for the guard. TEST-NET (192.0.2.1) would not do: the guard refuses documentation
# ranges as private. The port is the receiver's (a random high one) and the timeout short, so the
# attempt fails fast offline (network unreachable) and within 0.3 s elsewhere.
PUBLIC = "93.184.216.34"


def test_dns_rebinding_cannot_move_the_connection_to_a_private_address(app, dns, receiver, admin, db):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    url = f"http://hooks.example.test:{receiver.server.server_port}/hooks/fieldflow"
    dns[:] = [PUBLIC]
    endpoint_for(admin, receiver, url=url)
    dns[:] = [PUBLIC, "127.0.0.1"]  # public to the send's check, loopback to every later lookup
    work_items.create_task(admin, TaskIn(title="T", task_type="general"))
    relay.relay_outbox()
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 1, "dead": 0}
    assert receiver.requests == []
    (delivery,) = delivery_rows(db)
    (attempt,) = webhooks.delivery_attempts(delivery)
    assert delivery.status == "pending" and attempt.status_code is None
    assert attempt.error.startswith(("ConnectionError", "timed out")), attempt.error


def test_the_pinned_connection_keeps_the_host_name(monkeypatch, dns, receiver, admin, db):
    monkeypatch.setattr(webhook_targets, "blocked", lambda ip: False)  # take the loopback receiver for a public host
    port = receiver.server.server_port
    dns[:] = ["127.0.0.1"]
    endpoint_for(admin, receiver, url=f"http://hooks.example.test:{port}/hooks/fieldflow")
    dns[:] = ["127.0.0.1", PUBLIC]  # a second lookup would miss the receiver
    work_items.create_task(admin, TaskIn(title="T", task_type="general"))
    relay.relay_outbox()
    assert webhooks.deliver_due() == {"delivered": 1, "retrying": 0, "dead": 0}
    (request,) = receiver.requests
    assert request["valid"] and request["host"] == f"hooks.example.test:{port}"


def test_https_is_pinned_and_verified_against_the_host_name():
    adapter = webhook_targets.PinnedAdapter(PUBLIC)
    request = requests.Request("POST", "https://hooks.example.test:8443/hook", data=b"{}").prepare()
    pool = adapter.get_connection_with_tls_context(request, verify=True)
    adapter.add_headers(request)
    conn = pool._new_conn()  # built, not connected
    assert (pool.host, pool.port, conn.host) == (PUBLIC, 8443, PUBLIC)
    assert conn.server_hostname == conn.assert_hostname == "hooks.example.test"
    assert pool.cert_reqs == "CERT_REQUIRED" and request.headers["Host"] == "hooks.example.test:8443"


def test_a_timeout_is_an_attempt_error_and_retried(app, receiver, admin, db):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    endpoint_for(admin, receiver)
    receiver.hang.clear()
    work_items.create_task(admin, TaskIn(title="T", task_type="general"))
    relay.relay_outbox()
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 1, "dead": 0}
    (delivery,) = delivery_rows(db)
    (attempt,) = webhooks.delivery_attempts(delivery)
    assert attempt.status_code is None and attempt.error == "timed out after 0.3 s" and delivery.status == "pending"
    receiver.hang.set()


def test_redirects_are_not_followed_and_attempts_run_out(app, receiver, admin, db):
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    endpoint_for(admin, receiver)
    receiver.status = 302
    work_items.create_task(admin, TaskIn(title="T", task_type="general"))
    relay.relay_outbox()
    t0 = utcnow()
    assert webhooks.deliver_due(now=t0)["retrying"] == 1
    assert webhooks.deliver_due(now=t0 + timedelta(minutes=5))["dead"] == 1
    (delivery,) = delivery_rows(db)
    assert delivery.status == "dead" and "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 2  # never the Location target


def test_subscriptions_are_idempotent_and_project_scoped(app, receiver, admin, make_user, db):
    other = make_user("admin", ["Project B"], username="broot")
    mine = endpoint_for(admin, receiver)
    glob, _ = webhooks.create_endpoint(admin, EndpointIn(name="Global", url=receiver.url,
                                                         event_types=["TaskCreated", "AlertRaised"]))
    webhooks.create_endpoint(other, EndpointIn(name="B", url=receiver.url, event_types=["TaskCreated"]))
    webhooks.create_endpoint(admin, EndpointIn(name="Off", url=receiver.url, event_types=["TaskCreated"],
                                               enabled=False, project_id=admin.project_ids[0]))
    webhooks.create_endpoint(admin, EndpointIn(name="Plans", url=receiver.url, event_types=["ActionPlanCreated"],
                                               project_id=admin.project_ids[0]))
    event = emit_event("TaskCreated", "task", 1, example_payload("TaskCreated", task_id=1,
                                                                 project_id=admin.project_ids[0]))
    db.session.flush()
    assert webhooks.queue_for_subscriptions(event) == 2
    assert webhooks.queue_for_subscriptions(event) == 0
    first = webhooks.queue_delivery(glob.id, event, "rule:3")
    again = webhooks.queue_delivery(glob.id, event, "rule:3")
    db.session.commit()
    assert first.id == again.id
    rows = delivery_rows(db)
    assert sorted((r.endpoint_id, r.source) for r in rows) == sorted(
        [(mine.id, "subscription"), (glob.id, "subscription"), (glob.id, "rule:3")])
    webhooks.set_endpoint_enabled(admin, glob.id, False)
    assert webhooks.queue_delivery(glob.id, event, "rule:4") is None


def test_pages_show_the_secret_once_and_the_delivery_log(app, web_app, client, login, csrf, receiver, admin,
                                                        make_user, db):
    web_app.config["WEBHOOK_ALLOWED_HOSTS"] = ["127.0.0.1"]
    login(admin)
    token = csrf()
    bad = client.post("/automation/webhooks/new", data={"csrf_token": token, "name": "", "url": "http://10.0.0.1/"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="name-error"' in html and 'value="http://10.0.0.1/"' in html
    private = client.post("/automation/webhooks/new", data={"csrf_token": token, "name": "Ops", "url": "http://10.0.0.1/"})
    assert private.status_code == 400 and 'id="url-error"' in private.get_data(as_text=True)
    assert "private" in private.get_data(as_text=True)
    created = client.post("/automation/webhooks/new", data={"csrf_token": token, "name": "Ops", "url": receiver.url,
                                                            "event_types": ["TaskCreated"], "enabled": "on",
                                                            "project_id": str(admin.project_ids[0])})
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = html.split('<pre class="mono" id="webhook-secret">')[1].split("</pre>")[0]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    receiver.secret = secret
    listing = client.get("/automation/webhooks").get_data(as_text=True)
    assert "Ops" in listing and secret not in listing
    endpoint_id = webhooks.list_endpoints(admin)[0].id
    assert secret not in client.get(f"/automation/webhooks/{endpoint_id}/edit").get_data(as_text=True)

    receiver.fail_first = 10
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 1
    work_items.create_task(admin, TaskIn(title="T", task_type="general"))
    relay.relay_outbox()
    webhooks.deliver_due()
    (delivery,) = delivery_rows(db)
    log = client.get("/automation/webhooks?status=dead", headers=HX).get_data(as_text=True)
    assert "<h1>" not in log and f'data-delivery-id="{delivery.id}" data-status="dead"' in log and "HTTP 500" in log
    assert "No deliveries." in client.get("/automation/webhooks?status=delivered", headers=HX).get_data(as_text=True)

    coord = make_user("coordinator", ["Project A"], username="cc")
    coord_client = web_app.test_client()
    login(coord, test_client=coord_client)
    detail = coord_client.get(f"/automation/webhooks/deliveries/{delivery.id}").get_data(as_text=True)
    assert "HTTP 500" in detail and "Redeliver" not in detail
    assert coord_client.post(f"/automation/webhooks/deliveries/{delivery.id}/redeliver",
                             data={"csrf_token": csrf(coord_client)}).status_code == 403
    with pytest.raises(Forbidden):
        webhooks.redeliver(coord, delivery.id)

    receiver.fail_first = 0
    again = client.post(f"/automation/webhooks/deliveries/{delivery.id}/redeliver", data={"csrf_token": token},
                        follow_redirects=True)
    assert "Delivery queued again." in again.get_data(as_text=True)
    assert webhooks.deliver_due() == {"delivered": 1, "retrying": 0, "dead": 0}
    detail = client.get(f"/automation/webhooks/deliveries/{delivery.id}").get_data(as_text=True)
    assert "delivered" in detail and "<td>204</td>" in detail and "<td>500</td>" in detail
    assert {r["id"] for r in receiver.requests} == {delivery.id} and len(receiver.delivered) == 1
