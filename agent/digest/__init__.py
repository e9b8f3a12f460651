"""Findings -> a digest: build (group and order), render (text, Markdown, HTML, JSON),
mailer (SMTP) and delivery (build, render and send once per period)."""
