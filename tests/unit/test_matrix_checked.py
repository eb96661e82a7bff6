"""adapters/matrix.py ``checked``: the one place nio's answers are read.

nio reads the HTML error page of a proxy (nginx's 502) as ``{}``, and an empty response
accepts ``{}``; so a failed request must be told by its HTTP status, else a failed
``m.direct`` write (for one) would be taken as stored. The status is what aiohttp's
response says; here a stand-in carries it (nio keeps the aiohttp response as it is)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from nio import RoomSendError, RoomSendResponse
from nio.responses import EmptyResponse

from adapters.matrix import checked
from bot.messages import DeliveryError


@dataclass
class Transport:
    status: int


def answered(response: object, status: int) -> object:
    response.transport_response = Transport(status)  # type: ignore[attr-defined]
    return response


def test_an_answer_of_the_expected_type_is_taken() -> None:
    response = answered(EmptyResponse.from_dict({}), 200)
    assert checked("account_data", response, EmptyResponse) is response


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_proxy_error_page_is_a_failure_to_retry(status: int) -> None:
    with pytest.raises(DeliveryError) as failure:
        checked("account_data", answered(EmptyResponse.from_dict({}), status), EmptyResponse)
    assert not failure.value.permanent and f"HTTP {status}" in str(failure.value)


def test_a_matrix_error_keeps_its_code_and_wait() -> None:
    limited = RoomSendError.from_dict(
        {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many", "retry_after_ms": 1500}, "!room:here"
    )
    with pytest.raises(DeliveryError) as failure:
        checked("room_send", answered(limited, 429), RoomSendResponse)
    assert failure.value.retry_after == 1.5
