import pytest

from guanxi.kit.crypto import seal, unseal


def test_sealed_text_opens_with_its_key_only() -> None:
    token = seal("key-one", "smtp-password-密码")
    assert "smtp-password" not in token
    assert unseal("key-one", token) == "smtp-password-密码"
    with pytest.raises(ValueError, match="another secret key"):
        unseal("key-two", token)
    with pytest.raises(ValueError, match="another secret key"):
        unseal("key-one", token[:-4] + "AAAA")
