"""Everything that knows Interactive Brokers: the connection, the `IBBroker` adapter of the Broker
port, IB error codes, request pacing, the server clock and pure IB-object translations.

The only package that imports the IB client library (ib_async); the rest of the project talks to
the `trade.broker.Broker` port (tests/test_architecture.py enforces it).
"""
