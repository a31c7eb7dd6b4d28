"""The web server never imports torch: every page and every form, served, leaves it unloaded
(network code runs on workers; see tests/webapp/test_network_checks.py)."""

import json
import subprocess
import sys

from tests.support.processes import digits_env

SERVE_EVERYTHING = r"""
import json, sys, tempfile
from pathlib import Path
from tests.support.model_forms import MODELS, done_dataset, model_fields
from digits.config import Settings
from digits.webapp import create_app

jobs = Path(tempfile.mkdtemp()) / "jobs"
jobs.mkdir()
app = create_app(Settings(jobs_dir=jobs, secret_key="t"), {"TESTING": True,
                                                           "HOUSEKEEPING": False})
client = app.test_client()
client.post("/login", data={"username": "fred"})
dataset = done_dataset(app.extensions["digits"].store)
statuses = {}
for rule in app.url_map.iter_rules():
    if "GET" not in rule.methods or rule.endpoint == "static":
        continue
    values = {"job_id": dataset, "extension": ".zip"}
    if set(rule.arguments) - set(values):
        continue
    with app.test_request_context():
        url = app.url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
    statuses[url] = client.get(url).status_code
posts = [(MODELS, model_fields(dataset)),
         (MODELS, model_fields(dataset, method="custom",
                               custom_network="def network(n, c, h, w): pass")),
         ("/models/visualize-network.json", {"standard_networks": "lenet"}),
         ("/models/customize.json", {"network": "resnet50"}),
         ("/models/visualize-lr.json", {"lr_policy": "step"})]
for url, data in posts:
    statuses["POST " + url] = client.post(url, data=data).status_code
print(json.dumps({"statuses": statuses, "torch": "torch" in sys.modules}))
"""


def test_serving_every_page_and_form_never_imports_torch(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SERVE_EVERYTHING],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=digits_env(tmp_path / "jobs"),  # the repository on the path, as for every server
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = report["statuses"]
    assert len(statuses) > 15, statuses
    assert not [url for url, code in statuses.items() if code >= 500 and code != 503], statuses
    assert statuses["POST /models/images/classification.json"] == 200
    assert statuses["POST /models/visualize-network.json"] == 503  # no worker to try it on
    assert report["torch"] is False
