"""qa-serve's page at / in a real headless Chromium (the system's), driven by clients/js's playwright-core."""

import json

from rnnqa.runtime import QAModel
from tests.clients.node import SCREENSHOTS, chromium, need_node, node_test
from tests.serve.server import Server

QUESTIONS = ["What is the capital of Peru?", "Who painted Guernica?", "Who wrote 'Hamlet'?",
             "What is the airspeed velocity of an unladen swallow?", "How do I bake sourdough bread?"]


def test_the_page_shows_the_servers_answers_and_i_dont_know(make_bundle, tmp_path):
    need_node()
    browser = chromium()
    bundle = make_bundle("gru", epochs=30)
    model = QAModel.load(bundle)
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([{"question": q, "answer": a.text, "confidence": a.confidence, "known": a.known}
                                 for q, a in zip(QUESTIONS, map(model.answer, QUESTIONS))]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "serve-page-unknown.png").unlink(missing_ok=True)  # the one checked below is this run's
    server = Server(bundle)
    try:
        node_test({"RNNQA_SERVE_URL": server.url + "/", "RNNQA_CHROMIUM": browser, "RNNQA_CASES": str(cases),
                   "RNNQA_SCREENSHOT_DIR": str(SCREENSHOTS)}, "test/serve_page.test.js")
    finally:
        assert server.stop() == 0
    assert (SCREENSHOTS / "serve-page-unknown.png").stat().st_size > 1000
