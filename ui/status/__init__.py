"""The live status page of a running bot: a read-only JSON API, live updates (server-sent
events), a page, and token-guarded pause / resume / flatten, all served from the bot's own event
loop. It talks to the trader only through `ui.status.controls.TraderControls`."""
