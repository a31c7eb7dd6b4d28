"""The New Model form and API: what is refused before any job exists, and the form's helpers."""

import json

import pytest

from tests.support.model_forms import MODELS, done_dataset, errors_of, model_fields


@pytest.fixture
def dataset(app) -> str:
    return done_dataset(app.extensions["digits"].store)


def test_digits_call_creates_a_waiting_model(fred, dataset):
    response = fred.post(
        MODELS, data=model_fields(dataset, train_epochs="30", model_name="lenet_mnist")
    )
    assert response.status_code == 200
    job = fred.get(f"/models/{response.get_json()['id']}.json").get_json()
    assert job["status"] == "Waiting" and job["framework"] == "pytorch"
    assert job["dataset_id"] == dataset and job["labels"] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"train_epochs": "0"}, "train_epochs"),
        ({"batch_size": "0"}, "batch_size"),
        ({"learning_rate": "0"}, "learning_rate"),
        ({"learning_rate": "-1"}, "learning_rate"),
        ({"snapshot_interval": "0"}, "snapshot_interval"),
        ({"val_interval": "-2"}, "val_interval"),
        ({"crop_size": "29"}, "crop_size"),
        ({"solver_type": "LBFGS"}, "solver_type"),
        ({"aug_rot": "200"}, "aug_rot"),
        ({"aug_noise": "2"}, "aug_noise"),
        ({"aug_quad_rot": "rot45"}, "aug_quad_rot"),
        ({"aug_hsv_use": "1", "aug_hsv_h": "0.9"}, "aug_hsv_h"),
        ({"lr_policy": "cosine"}, "lr_policy"),
        ({"lr_multistep_values": "a,b", "lr_policy": "multistep"}, "lr_multistep_values"),
        ({"standard_networks": "vgg99"}, "standard_networks"),
        ({"framework": "theano"}, "framework"),
        (
            {"framework": "caffe", "method": "custom", "custom_network": "def network(): 1"},
            "custom_network",
        ),
        ({"dataset": "20250101-000000-abcd"}, "dataset"),
        ({"model_name": ""}, "model_name"),
        ({"select_gpus": "3"}, "select_gpus"),
        ({"method": "previous", "previous_networks": ""}, "previous_networks"),
        ({"probe_records": "1"}, "probe_records"),  # the dataset has no validation images
    ],
)
def test_bad_fields_are_400s_naming_the_field(fred, dataset, overrides, field):
    fields = model_fields(dataset)
    fields.update(overrides)
    assert field in errors_of(fred.post(MODELS, data=fields))
    assert fred.get("/index.json").get_json()["models"] == []


def test_lr_preview_follows_the_policy(client):
    curve = client.post(
        "/models/visualize-lr.json",
        data={
            "lr_policy": "step",
            "lr_step_size": "50",
            "lr_step_gamma": "0.5",
            "learning_rate": "1",
        },
    ).get_json()
    assert curve["y"][0] == 1.0 and curve["y"][50] == 0.5 and curve["y"][-1] == 0.25


def test_the_form_page_offers_every_digits_option(fred, dataset):
    page = fred.get("/models/images/classification/new").get_data(as_text=True)
    names = """dataset train_epochs snapshot_interval val_interval random_seed batch_size
        batch_accumulation solver_type learning_rate lr_policy use_mean crop_size shuffle aug_flip
        aug_quad_rot aug_rot aug_scale aug_noise aug_hsv_use aug_hsv_h aug_hsv_s aug_hsv_v
        method standard_networks previous_networks custom_network select_gpu_count model_name
        """.split()
    for name in names:
        assert f'name="{name}"' in page
    for network in ("lenet", "alexnet", "googlenet", "resnet18", "resnet50", "mobilenet_v2"):
        assert f'value="{network}"' in page


def offer_gpus(jobs_dir, **hosts):
    """Heartbeat files of live GPU workers: offer_gpus(jobs_dir, a=[0, 1]) for `gpu@a`."""
    import json
    import time

    folder = jobs_dir / ".workers"
    folder.mkdir(parents=True, exist_ok=True)
    for node, gpus in hosts.items():
        devices = [
            {"index": g, "name": "H100", "held_by": {"name": "first"} if g == 0 else None}
            for g in gpus
        ]
        beat = {
            "hostname": f"gpu@{node}",
            "host": node,
            "queues": ["gpu"],
            "gpus": gpus,
            "devices": devices,
            "time": time.time(),
        }
        (folder / f"gpu@{node}.json").write_text(json.dumps(beat))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"select_gpus": "5"}, "select_gpus", "no worker offers GPU 5"),
        ({"select_gpus": "1,2"}, "select_gpus", "no one host has all of these GPUs"),
        ({"select_gpu_count": "4"}, "select_gpu_count", "the live hosts have 3 together"),
        ({"select_gpus": "a:0,b:5"}, "select_gpus", "no worker offers GPU b:5"),
    ],
)
def test_gpus_no_host_can_give_are_refused(fred, dataset, jobs_dir, overrides, field, message):
    offer_gpus(jobs_dir, a=[0, 1], b=[2])
    [error] = errors_of(fred.post(MODELS, data=model_fields(dataset, **overrides)))[field]
    assert message in error


def test_gpus_the_hosts_have_are_accepted_across_hosts_by_count(fred, dataset, jobs_dir):
    offer_gpus(jobs_dir, a=[0, 1], b=[2])
    assert fred.post(MODELS, data=model_fields(dataset, select_gpus="0,1")).status_code == 200
    assert fred.post(MODELS, data=model_fields(dataset, select_gpu_count="2")).status_code == 200
    across = fred.post(MODELS, data=model_fields(dataset, select_gpu_count="3"))
    assert across.status_code == 200  # 2 on a, 1 on b: a gang
    named = fred.post(MODELS, data=model_fields(dataset, select_gpus="a:1,b:2"))
    assert named.status_code == 200


def test_the_form_offers_each_gpu_with_its_state_on_each_host(fred, dataset, jobs_dir):
    offer_gpus(jobs_dir, a=[0, 1])
    page = fred.get("/models/images/classification/new").get_data(as_text=True)
    assert '<option value="0">GPU 0 · H100 (held by first on a)</option>' in page
    assert '<option value="1">GPU 1 · H100 (free on a)</option>' in page
    # Several hosts: each GPU by host, to choose one host's or some of several.
    offer_gpus(jobs_dir, a=[0, 1], b=[0])
    page = fred.get("/models/images/classification/new").get_data(as_text=True)
    assert '<option value="a:1">a · GPU 1 · H100 (free)</option>' in page
    assert '<option value="b:0">b · GPU 0 · H100 (held by first)</option>' in page
    pinned = fred.post(MODELS, data=model_fields(dataset, select_gpus=["a:1"]))
    assert pinned.status_code == 200
    assert (
        fred.get(f"/models/{pinned.get_json()['id']}.json").get_json()["parameters"]["select_gpus"]
        == "a:1"
    )


def test_every_error_is_reported_at_once(fred, dataset):
    fields = model_fields(dataset, crop_size="29", train_epochs="0", learning_rate="-1")
    errors = errors_of(fred.post(MODELS, data=fields))
    assert {"crop_size", "train_epochs", "learning_rate"} <= set(errors)
    assert "larger than the dataset's 28x28 images" in errors["crop_size"][0]


def test_a_sweeps_jobs_are_filed_under_its_name_or_the_group_asked_for(fred, dataset):
    sweep = fred.post(MODELS, data=model_fields(dataset, model_name="lr", learning_rate="0.1,0.01"))
    ids = [job["id"] for job in sweep.get_json()["jobs"]]
    groups = {fred.get(f"/models/{i}.json").get_json()["group"] for i in ids}
    assert groups == {"lr"}
    named = fred.post(MODELS, data=model_fields(dataset, group_name="baselines"))
    assert fred.get(f"/models/{named.get_json()['id']}.json").get_json()["group"] == "baselines"
    too_long = fred.post(MODELS, data=model_fields(dataset, group_name="g" * 101))
    assert "group_name" in errors_of(too_long)


@pytest.mark.parametrize("framework", ["caffe", "torch", "tensorflow"])
def test_a_digits_script_naming_another_framework_trains_the_standard_network_here(
    fred, dataset, framework
):
    response = fred.post(MODELS, data=model_fields(dataset, framework=framework))
    assert response.status_code == 200, response.data
    job = fred.get(f"/models/{response.get_json()['id']}.json").get_json()
    assert job["framework"] == "pytorch" and job["network"] == "lenet"


SEARCH = "/models/search.json"


def test_a_search_is_refused_whole_before_any_job_exists(fred, dataset):
    fields = model_fields(
        dataset,
        search_space="learning_rate: 0.001 .. 0.1\ncrop_size: 16 .. 32\nmodel_name: a, b",
        search_trials="500",
        train_epochs="0",
    )
    errors = errors_of(fred.post(SEARCH, data=fields))
    assert errors["search_space"] == [
        "line 3: model_name is the same for every trial: set it on the form",
        "crop_size = 32: larger than the dataset's 28x28 images",
    ]
    assert errors["search_trials"] == ["a whole number from 1 to 200"]
    assert "train_epochs" in errors
    assert fred.get("/index.json").get_json()["models"] == []


def test_a_search_waits_as_one_job_filed_with_its_trials_to_come(fred, dataset):
    fields = model_fields(
        dataset,
        model_name="colors",
        search_space="learning_rate: 0.001 .. 0.1\nbatch_size: 8, 16",
        search_trials="4",
    )
    response = fred.post(SEARCH, data=fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    search = fred.get(f"/models/{response.get_json()['id']}.json").get_json()
    assert (search["name"], search["group"], search["status"]) == (
        "Search: colors",
        "colors",
        "Waiting",
    )
    assert search["type"] == "model-search" and search["search"] is None
    # Its parameters show the first trial's low ends where the space varies a field.
    assert search["parameters"]["learning_rate"] == "0.001"
    page = fred.get(f"/models/{search['id']}").get_data(as_text=True)
    assert 'data-role="trials"' in page and "/models/compare?group=colors" in page
    form = fred.get("/models/images/classification/new").get_data(as_text=True)
    assert 'name="search_space"' in form and 'data-role="start-search"' in form


def test_the_model_page_names_the_networks_own_batch_when_the_field_was_left_blank(fred, dataset):
    fields = model_fields(dataset, standard_networks="googlenet", batch_size="")
    job_id = fred.post(MODELS, data=fields).get_json()["id"]
    assert fred.get(f"/models/{job_id}.json").get_json()["batch_size"] == 32
    assert b'data-role="batch-size">32<' in fred.get(f"/models/{job_id}").data


def test_the_batch_finder_proposes_the_forms_global_batch_for_the_gpus_it_chose(fred, dataset, app):
    fields = model_fields(dataset, select_gpu_count="2", model_name="two")
    job_id = fred.post("/models/batch-finder.json", data=fields).get_json()["id"]
    store = app.extensions["digits"].store
    result = {"device": "cpu", "note": "n", "tries": [], "largest": 40, "suggested": 32}
    (store.folder(job_id) / "batch_finder.json").write_text(json.dumps(result))
    job = fred.get(f"/models/{job_id}.json").get_json()
    assert job["batch_finder"]["suggested"] == 32  # per GPU, as it was tried
    assert (job["batch_for_gpus"], job["suggested_batch_size"]) == (2, 64)  # the form's
    assert b"batch_size=64" in fred.get(f"/models/{job_id}").data
