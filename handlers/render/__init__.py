"""Block Kit rendering: plain data in, Slack message payloads out."""
