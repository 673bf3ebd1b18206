"""Shared building blocks that are not an app: errors, money, tenancy, admin and API plumbing, jobs."""
