"""Alerts on the owner's phone: what needs a person, pushed where they are (see docs/alerts.md).

`events` is the catalog (levels, typed constructors, one-line wording), `notifier` delivers them
through apprise off the trading path, `config` reads ALERT_URLS / ALERT_MUTE, `receiver` is a tiny
JSON-webhook receiver for trying it by hand. Import the submodules; this package stays light.
"""
