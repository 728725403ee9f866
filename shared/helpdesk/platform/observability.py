"""Powertools Logger and Metrics, one place. Buyer names, e-mails and message bodies are never
logged: log ids (tenant, store, ticket, delivery) only."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "Helpdesk"


def logger_for(service: str) -> Logger:
    return Logger(service=service)


def metrics_for(service: str) -> Metrics:
    return Metrics(namespace=NAMESPACE, service=service)


__all__ = ["MetricUnit", "logger_for", "metrics_for"]
