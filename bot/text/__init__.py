"""Text people type: masking secrets and phone numbers, escaping for Slack, clipping."""
