"""Drills: rehearsals of the response window through the real ladder, scored.

`start` declares one (bot/drills/start.py: who may, the shortened window); `score` writes its
score card when it is resolved or its last step fired unanswered (bot/drills/score.py)."""
