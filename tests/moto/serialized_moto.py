"""moto's server with every request handled one at a time.

DynamoDB applies each conditional write atomically; moto's threaded server checks a condition
and writes in separate steps, so two concurrent conditional writes can both succeed there. The
tests that race invocations against each other need DynamoDB's semantics, so this runs moto's
own WSGI application behind one lock (connections are still served by threads).

    python3 serialized_moto.py PORT
"""
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

application = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    with lock:
        return list(application(environ, start_response))


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), serialized, threaded=True)
