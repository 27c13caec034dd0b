"""The pages' side of a stack: what `/config.json` says, and publishing `web/` to a deployed stack's bucket.

    complaints web publish --stack ruian-desk     # web/ and config.json to WebBucket, then a CloudFront invalidation

The pages are static files; the one thing they must learn from the stack is where staff sign in (the Cognito
endpoint and app client) and the city's lists for pickers and filters. That is `/config.json`, written here from
the city file and the stack's outputs at publish time, and served by the local stack from the same function.
"""

from __future__ import annotations

import json
import mimetypes
import time
from pathlib import Path
from typing import Any

from complaints.city import City

# Every page and file is revalidated on each load (ETag): names carry no content hash, so an hour's caching would
# pair a new page with an old script after a publish.
CACHE_CONTROL = "no-cache"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}
# What never goes to the bucket: the browser tests' packages, editors' and the OS's droppings.
SKIP_PARTS = {"node_modules", ".DS_Store"}


def content_type(path: Path) -> str:
    return TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def site_config(city: City, *, cognito_endpoint: str, region: str, client_id: str) -> dict[str, Any]:
    """`/config.json`: the city's lists for the pages' pickers and filters, and where staff sign in."""
    return {
        "city": {"code": city.code, "name": city.name, "board_name": city.board},
        "districts": [{"name": d.name, "kind": d.kind, "lat": d.lat, "lng": d.lng} for d in city.districts],
        "categories": [c.name for c in city.categories],
        "agencies": [{"id": a.id, "name": a.name, "kind": a.kind} for a in city.agencies],
        "cognito": {"endpoint": cognito_endpoint, "region": region, "client_id": client_id},
    }


def site_files(web_dir: Path) -> list[Path]:
    """The files of `web/` that are published, relative to it."""
    return sorted(
        p.relative_to(web_dir)
        for p in web_dir.rglob("*")
        if p.is_file() and not SKIP_PARTS.intersection(p.relative_to(web_dir).parts)
    )


def publish(stack_name: str, root: Path, *, cfn: Any = None, s3: Any = None, cloudfront: Any = None) -> dict:
    """Upload web/ and config.json to the stack's WebBucket, delete what web/ no longer has, invalidate."""
    import boto3

    from complaints.city import load_city

    cfn = cfn or boto3.client("cloudformation")
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    region = cfn.meta.region_name
    city = load_city(root / "city" / f"{params.get('CityCode', 'ruian')}.toml")
    s3 = s3 or boto3.client("s3", region_name=region)
    bucket = outputs["WebBucketName"]
    web_dir = root / "web"
    uploaded = []
    for rel in site_files(web_dir):
        s3.put_object(
            Bucket=bucket,
            Key=rel.as_posix(),
            Body=(web_dir / rel).read_bytes(),
            ContentType=content_type(rel),
            CacheControl=CACHE_CONTROL,
        )
        uploaded.append(rel.as_posix())
    config = site_config(
        city,
        cognito_endpoint=f"https://cognito-idp.{region}.amazonaws.com/",
        region=region,
        client_id=outputs["StaffUserPoolClientId"],
    )
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config, ensure_ascii=False).encode("utf-8"),
        ContentType="application/json",
        CacheControl=CACHE_CONTROL,
    )
    keep = set(uploaded) | {"config.json"}
    stale = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
        if o["Key"] not in keep
    ]
    for i in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[i : i + 1000]]})
    cloudfront = cloudfront or boto3.client("cloudfront")
    invalidation = cloudfront.create_invalidation(
        DistributionId=outputs["WebDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"publish-{time.time_ns()}"},
    )["Invalidation"]["Id"]
    return {
        "bucket": bucket,
        "uploaded": len(uploaded) + 1,
        "deleted": len(stale),
        "invalidation": invalidation,
        "url": outputs.get("WebUrl"),
    }
