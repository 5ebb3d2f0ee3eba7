"""Thin HTTP handlers: each reads its request, calls one service method and shapes the
answer. Authentication is a dependency (`auth.device_id`) the routes receive."""
