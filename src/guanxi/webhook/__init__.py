"""Outbound webhooks (M7): endpoints subscribed to event types, signed deliveries with retries
and backoff, a delivery log with every attempt, and a circuit breaker for failing endpoints."""
