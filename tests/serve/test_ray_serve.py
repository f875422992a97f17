"""qa-serve --engine ray: the bundle on Ray Serve replicas of a real local Ray cluster, with qa-serve's routes
and answers, reload by redeploy (SIGHUP) and a clean stop. Every loop is bounded in requests and in time."""

import shutil
import signal
import time

import httpx
import pytest
from click.testing import CliRunner

from rnnqa.errors import ConfigError
from rnnqa.runtime import QAModel
from rnnqa.serve.cli import main
from tests.serve.server import Server
from tests.serve.test_server import QUESTIONS, same

ray_serve = pytest.importorskip("rnnqa.serve.ray_serve", reason="needs the ray extra (ray[serve])")


@pytest.fixture(scope="module")
def bundles(make_bundle):
    return make_bundle("gru", epochs=30), make_bundle("gru", epochs=3)


def sha(bundle) -> str:
    return QAModel.load(bundle).bundle.manifest["files"]["model.onnx"]


def wait_for(server: Server, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in server.lines):
        assert time.monotonic() < deadline, f"no {text!r} in the log: {server.lines[-20:]}"
        time.sleep(0.1)


@pytest.mark.slow
def test_replicas_answer_as_qa_serve_reload_by_redeploy_and_stop_with_exit_0(bundles, tmp_path):
    served = tmp_path / "bundle"
    shutil.copytree(bundles[0], served)
    server = Server(served, "--engine", "ray", "--replicas", "2", start_timeout=240)
    try:
        model = QAModel.load(bundles[0])
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for question in QUESTIONS[:20]:
                record = client.post("/v1/answer", json={"question": question}).json()
                assert same(record, model.answer(question)) and record["bundle"]["model_sha256"] == sha(bundles[0])
            infer = client.post("/v2/models/rnnqa/infer", json={"inputs": [
                {"name": "question", "datatype": "BYTES", "shape": [2], "data": QUESTIONS[:2]}]}).json()
            assert infer["outputs"][0]["data"] == [a.text for a in model.answer_batch(QUESTIONS[:2])]
            bad = client.post("/v1/answer", json={"question": 3})
            assert bad.status_code == 422 and "must be a string" in bad.json()["error"]
            assert client.get("/v2/health/ready").json() == {"ready": True}
            refused = client.post("/admin/reload")  # one replica alone must not reload
            assert refused.status_code == 409 and "redeploy" in refused.json()["error"]

            (served / "model.onnx").write_bytes(b"not a graph")  # SIGHUP with a broken bundle: refused
            server.process.send_signal(signal.SIGHUP)
            wait_for(server, "reload refused")
            assert client.post("/v1/answer", json={"question": QUESTIONS[0]}).json()["bundle"]["model_sha256"] \
                == sha(bundles[0])

            shutil.rmtree(served)
            shutil.copytree(bundles[1], served)
            server.process.send_signal(signal.SIGHUP)  # the new bundle: replicas replaced one by one
            seen, deadline = [], time.monotonic() + 180
            while time.monotonic() < deadline and (not seen or seen[-1] != sha(bundles[1])):
                response = client.post("/v1/answer", json={"question": QUESTIONS[0]})
                assert response.status_code == 200  # no request fails while the replicas are replaced
                seen.append(response.json()["bundle"]["model_sha256"])
                time.sleep(0.05)
            assert seen[-1] == sha(bundles[1])
            wait_for(server, '"event": "redeployed"')
            record = client.post("/v1/answer", json={"question": QUESTIONS[1]}).json()
            assert same(record, QAModel.load(bundles[1]).answer(QUESTIONS[1]))
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--replicas", "2"], "--address, --replicas and --autoscaling go with --engine ray"),
    (["--engine", "ray", "--workers", "2"], "--workers and --loop go with --engine uvicorn"),
    (["--engine", "ray", "--autoscaling", "{"], "not JSON"),
    (["--engine", "ray", "--autoscaling", "[1]"], "must be a JSON object"),
    (["--engine", "ray", "--replicas", "2", "--autoscaling", '{"max_replicas": 2}'], "not both"),
])
def test_engine_options_that_do_not_go_together_are_usage_errors(bundles, args, message):
    result = CliRunner().invoke(main, ["--bundle", str(bundles[0]), *args])
    assert result.exit_code == 2 and message in result.output


def test_the_builder_for_rays_cli_names_its_arguments_and_checks_the_bundle(bundles, tmp_path):
    with pytest.raises(ConfigError, match="bundle=DIR"):
        ray_serve.app({"replicas": "2"})
    with pytest.raises(ConfigError, match="bundle=DIR"):
        ray_serve.app({"bundle": str(bundles[0]), "replica": "2"})  # a typo is named, not ignored
    with pytest.raises(ConfigError, match="not both"):
        ray_serve.RayOptions(replicas=2, autoscaling={"max_replicas": 3})
    from rnnqa.errors import BundleError

    with pytest.raises(BundleError):
        ray_serve.app({"bundle": str(tmp_path)})  # refused in the driver, before anything is deployed
    built = ray_serve.app({"bundle": str(bundles[0]), "autoscaling": '{"min_replicas": 1, "max_replicas": 3}'})
    deployment = built._bound_deployment  # what Ray would deploy: the settings passed through
    assert deployment._deployment_config.autoscaling_config.max_replicas == 3
    assert deployment.init_args[0] == str(bundles[0].resolve()) and deployment.init_args[-1] == sha(bundles[0])
