"""`baton demo`: Baton at work with no Slack workspace (docs/demo.md). Loaded only by `baton demo`."""
