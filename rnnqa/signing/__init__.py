"""Signed bundles: ``qa-sign`` and ``qa-export --sign-key`` write an OpenSSF model-signing v1.0 signature
(``model.sig``, an ECDSA key) over every file of a bundle; the runtime verifies it when given the public
key (:mod:`rnnqa.runtime.signature`). Needs the ``sign`` extra: ``pip install 'rnnqa[sign]'``.

    from rnnqa.signing import sign_bundle
    sign_bundle("artifacts/bundle", "key.pem")
    QAModel.load("artifacts/bundle", public_key="key.pub.pem")
"""

from rnnqa.signing.sign import check_private_key, sign_bundle

__all__ = ["check_private_key", "sign_bundle"]
