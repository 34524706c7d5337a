"""The worker's protocol (generations, error wording) and the inspector's reports, without Qt."""

from __future__ import annotations

from fcnviewer.core.errors import UserError
from fcnviewer.viewer.inspector import PixelReport, StageReport, with_contributions
from fcnviewer.viewer.protocol import LoadModelRequest, OpenImageRequest, ProbeRequest, Requests, error_message


def test_a_request_is_stamped_with_the_generations_it_depends_on() -> None:
    requests = Requests()
    requests.advance("open")
    probe = requests.make(ProbeRequest, y=3, x=4)
    assert (probe.open_generation, probe.image_generation, probe.probe_generation) == (1, 0, 0)
    requests.advance("open")  # a probe does not depend on which image is being opened
    assert requests.is_current(probe)
    opening = requests.make(OpenImageRequest)
    requests.advance("model")  # nor does opening an image on the model
    assert requests.is_current(opening) and not requests.is_current(probe)
    assert LoadModelRequest.depends_on == ("model",)


def test_user_errors_speak_for_themselves_and_bugs_say_where() -> None:
    assert error_message(UserError("a.png: not an image")) == "a.png: not an image"
    try:
        {}["missing"]
    except KeyError as exc:
        message = error_message(exc)
    assert message.startswith("KeyError: 'missing' (at test_protocol.py:")
    assert error_message(RuntimeError("no model is loaded")) == "RuntimeError: no model is loaded"


def _report(y: int, x: int) -> PixelReport:
    return PixelReport(y, x, (StageReport("final", ((1, 0.9),), (0, 0, 5, 5)),))


def test_contributions_fill_their_pins_report_and_say_when_a_newer_click_replaced_it() -> None:
    reports = [_report(1, 1), _report(2, 2), _report(3, 3)]
    waiting = with_contributions(reports, 3, 3, {"pool4": 1.5}, 2, "", waiting=True)
    assert [r.contributions for r in waiting] == [None, None, {"pool4": 1.5}]  # more probes to come
    done = with_contributions(reports, 3, 3, {"pool4": 1.5}, 2, "", waiting=False)
    assert [r.note for r in done[:2]] == ["not computed: a newer click replaced it"] * 2
    assert done[2].contributions == {"pool4": 1.5} and done[2].contribution_class == 2
    last = with_contributions(reports[:2], 1, 1, {}, 0, "no branches", waiting=False)
    assert last[0].note == "no branches" and last[1].contributions is None  # the newest waits for its own
