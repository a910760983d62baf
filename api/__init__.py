"""The web app (docs/architecture.md step 8): portal pages, JSON API, staff moderation API."""
