"""moto's server with DynamoDB requests handled one at a time.

DynamoDB applies each conditional write atomically; moto's threaded server checks a condition
and writes in separate steps, so two concurrent conditional writes can both succeed there. The
tests that race invocations against each other need DynamoDB's semantics, so this runs moto's
own WSGI application with DynamoDB requests (`X-Amz-Target: DynamoDB_...`) behind one lock;
other services' requests, and connections, are still served by threads, so a slow publish does
not hold up the table.

    python3 serialized_moto.py PORT
"""
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

application = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        return application(environ, start_response)
    with lock:
        return list(application(environ, start_response))


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), serialized, threaded=True)
