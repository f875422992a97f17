"""``qa-ask``: the command over the runtime (questions) and rnnqa.batch (stored files), above both."""
