"""An S3 API server on loopback for tests: moto in server mode, in its own process.

No real object store can be installed on these machines; moto speaks the S3 HTTP API
(conditional writes included) and, with authentication on, refuses unknown keys, so the
code under test talks HTTP to it exactly as it would to S3. What moto cannot show (S3's
behaviour under real load, real IAM policies) is not claimed by any test that uses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from voxlake.testing.ports import free_port, wait_for_port

REGION = "us-east-1"
# moto serves this many requests before it starts checking signatures: the IAM calls that
# create the test user, its key and its policy.
SETUP_REQUESTS = 3


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    pid: int

    def uri(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix.strip('/')}"

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",
        }


def _test_user(endpoint: str) -> tuple[str, str]:
    """An IAM user allowed everything; its access key."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="voxlake")
    key = iam.create_access_key(UserName="voxlake")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="voxlake", PolicyName="all", PolicyDocument=json.dumps(policy))
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


@contextmanager
def s3_server(bucket: str = "voxlake") -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 that checks credentials, with one bucket; this
    process's environment points at it while the block runs. The server is stopped after."""
    import boto3

    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_REQUESTS)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc, "the S3 server")
        endpoint = f"http://127.0.0.1:{port}"
        key_id, secret = _test_user(endpoint)
        s3 = S3Server(endpoint, bucket, key_id, secret, proc.pid)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        ).create_bucket(Bucket=bucket)
        saved = {k: os.environ.get(k) for k in s3.env()}
        os.environ.update(s3.env())
        try:
            yield s3
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def upload_tree(folder: Path, uri: str, under: str = "") -> int:
    """Copy the files below `folder/under` to the store at `uri`, keeping their paths
    relative to `folder`; returns how many."""
    import obstore

    from voxlake.lake.objectstore import open_store

    store = open_store(uri)
    files = [f for f in sorted((folder / under).rglob("*")) if f.is_file()]
    for f in files:
        obstore.put(store, f.relative_to(folder).as_posix(), f.read_bytes())
    return len(files)
