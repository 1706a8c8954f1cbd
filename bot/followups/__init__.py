"""Follow-ups: work an incident leaves behind, and their issues in GitHub or Jira."""
