"""The event a Lambda function URL hands its function: payload format 2.0, AWS_IAM auth.

Shared by the read API's handler tests, its Terraform test and the demo, so that all three feed the
handler the same shape Lambda builds (rawPath, rawQueryString, requestContext.http.method,
requestContext.authorizer.iam ...).
"""

from __future__ import annotations

from typing import Any

IAM = {
    "accessKey": "AKIAIOSFODNN7EXAMPLE",
    "accountId": "123456789012",
    "callerId": "AROAEXAMPLE:app",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": "arn:aws:sts::123456789012:assumed-role/app/app",
    "userId": "AROAEXAMPLE:app",
}


def url_event(
    raw_path: str, query: str = "", method: str = "GET", iam: dict | None = IAM
) -> dict[str, Any]:
    """A function URL event, payload format 2.0, as Lambda builds it for an AWS_IAM URL."""
    context: dict[str, Any] = {
        "accountId": "123456789012",  # the caller's account ("anonymous" only with NONE auth)
        "apiId": "abcdefghijklmnopqrstuvwxyz012345",
        "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
        "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "python-requests/2.32",
        },
        "requestId": "8d3f1a8e-6f0b-4a8c-9b1e-2f7c1d2a3b4c",
        "routeKey": "$default",
        "stage": "$default",
        "time": "22/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795348800000,
    }
    if iam is not None:
        context["authorizer"] = {"iam": iam}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {
            "host": context["domainName"],
            "x-amz-date": "20261122T120000Z",
            "x-forwarded-proto": "https",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/...",
        },
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    return event
