"""The dashboard's counts (quiz.web.tally): what each event adds, per shop day, added up across processes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from test_store_contract import store  # noqa: F401  (the fixture: memory, embedded, PostgreSQL)
from together import together

from quiz.web.tally import MAX_VALUES, OTHER, ROLLUPS, Tally, add_up, counts_of, day_of, merge, read_counts, rebuild

TOKYO = ZoneInfo("Asia/Tokyo")


def event(kind, at="2026-11-30T16:30:00.000Z", **details):
    return {"kind": kind, "quiz": "serum", "at": at, "site": "https://shop.example", "locale": "ja", **details}


def test_a_day_is_the_shop_s_day():
    assert day_of("2026-11-30T16:30:00.000Z", TOKYO) == "2026-12-01"  # 01:30 in Tokyo
    assert day_of("2026-11-30T14:59:59.000Z", TOKYO) == "2026-11-30"
    assert day_of("not a time", TOKYO) == ""


def test_a_completion_counts_its_ranks_answers_and_segments_but_never_a_question_by_its_own_answer():
    counts = counts_of(
        event(
            "completed",
            products=["rose", "aqua"],
            answers={"skin": "dry", "concerns": ["redness", "pores"], "age": 34.0},
            campaign={"source": "instagram"},
        )
    )
    assert counts["shown"] == {"rose": {"1": 1}, "aqua": {"2": 1}}
    assert counts["answer"] == {"skin": {"dry": 1}, "concerns": {"redness": 1, "pores": 1}, "age": {"34": 1}}
    assert counts["segment"]["answer:skin=dry"] == {"concerns": {"redness": 1, "pores": 1}, "age": {"34": 1}}
    assert counts["segment"]["source:instagram"]["skin"] == {"dry": 1}
    assert counts["traffic"]["site"] == {"https://shop.example": {"completed": 1}}


def test_a_page_is_counted_without_its_query():
    counts = counts_of(event("viewed", page="https://shop.example/p/1?utm_source=x#top"))
    assert counts["traffic"]["page"] == {"https://shop.example/p/1": {"viewed": 1}}


def test_answers_reach_the_next_question_and_opt_ins_count_by_channel():
    assert counts_of(event("started", question="skin"))["reached"] == {"skin": 1}
    answered = counts_of(event("answered", question="skin", answer="dry", next="fragrance"))
    assert answered["answered"] == {"skin": 1} and answered["reached"] == {"fragrance": 1}
    assert "reached" not in counts_of(event("answered", question="last", next="results"))
    assert counts_of(event("opted_in", channel="line"))["funnel"] == {"opted_in": 1, "opted_in:line": 1}


def test_a_flood_of_made_up_values_stops_growing_a_day_at_the_cap():
    counts: dict = {}
    for number in range(MAX_VALUES + 50):
        merge(counts, {"traffic": {"campaign": {f"fake-{number}": {"viewed": 1}}}})
    campaigns = counts["traffic"]["campaign"]
    assert len(campaigns) == MAX_VALUES + 1 and campaigns[OTHER] == {"viewed": 50}


def test_two_processes_counting_one_day_add_up(store):  # noqa: F811
    tallies = [Tally(store, TOKYO) for _ in range(4)]
    for tally in tallies:
        for _ in range(25):
            tally.count(event("viewed"))
    together(lambda tally: [tally.flush(), tally.count(event("started")), tally.flush()], [(t,) for t in tallies])
    counts = read_counts(store, "serum", "2026-12-01", ["funnel", "traffic:locale", "answer"])
    assert counts["funnel"] == {"viewed": 100, "started": 4}
    assert counts["traffic"] == {"locale": {"ja": {"viewed": 100, "started": 4}}}
    assert "answer" not in counts  # nobody completed: no record of answers


def test_counting_again_from_the_events_gives_what_was_counted_as_they_came(store):  # noqa: F811
    tally = Tally(store, TOKYO)
    stream = [
        event("viewed"),
        event("started", question="skin"),
        event("answered", question="skin", answer="dry", next="fragrance"),
        event("completed", at="2026-12-01T03:00:00.000Z", products=["rose"], answers={"skin": "dry"}),
    ]
    for one in stream:
        store.add("events", one)
        tally.count(one)
    tally.flush()
    counted = {record["id"]: record["counts"] for record in store.records(ROLLUPS)}
    assert rebuild(store, TOKYO) == 1
    assert {record["id"]: record["counts"] for record in store.records(ROLLUPS)} == counted
    assert rebuild(store, ZoneInfo("UTC")) == 2
    assert {record["day"] for record in store.records(ROLLUPS)} == {
        "2026-11-30",
        "2026-12-01",
    }  # in UTC the first three fall on 30 November


def test_a_flood_of_made_up_campaigns_stops_making_segments_at_the_cap_across_writes(store):  # noqa: F811
    tally = Tally(store, TOKYO)
    for batch in range(3):
        for number in range(MAX_VALUES // 2 + 10):
            campaign = {"campaign": f"fake-{batch}-{number}"}
            tally.count(event("completed", answers={"skin": "dry"}, products=[], campaign=campaign))
        tally.flush()
    parts = [record["part"] for record in store.records(ROLLUPS)]
    segments = [part for part in parts if part.startswith("segment:")]
    assert len(segments) == MAX_VALUES + 1 and f"segment:{OTHER}" in segments
    counts = read_counts(store, "serum", "2026-12-01", ["segment_runs", f"segment:{OTHER}"])
    assert sum(counts["segment_runs"].values()) == 3 * (MAX_VALUES // 2 + 10) * 3  # answer, locale, campaign
    assert counts["segment"][OTHER]["skin"] == {"dry": counts["segment_runs"][OTHER]}


def test_a_nul_or_lone_surrogate_in_an_event_s_context_still_counts(store):  # noqa: F811
    """Events stored before the shop's context was cleaned may hold them; a record's id cannot (PostgreSQL)."""
    tally = Tally(store, TOKYO)
    hostile = {"source": "ad\x00mail", "campaign": "\ud800sale"}
    tally.count(event("completed", answers={"skin": "dry"}, products=["rose"], campaign=hostile))
    tally.flush()
    assert tally._pending == {}
    counts = read_counts(store, "serum", "2026-12-01", ["traffic:source", "segment_runs"])
    assert counts["traffic"]["source"] == {"ad mail": {"completed": 1}}
    assert counts["segment_runs"]["campaign:sale"] == 1


def test_a_record_edited_by_hand_counts_as_nothing_and_holds_up_no_other_day(store):  # noqa: F811
    store.put(ROLLUPS, "serum|2026-12-01|funnel", {"quiz": "serum", "part": "funnel", "counts": []})
    store.put(ROLLUPS, "serum|2026-12-01|clicks", {"counts": {"rose": "many", "gel": {"deep": 1}}})
    store.put(ROLLUPS, "serum|2026-12-01|traffic:page", {"counts": {"https://a.example/": 3, "https://b.example/": []}})
    parts = ["funnel", "clicks", "traffic:page"]
    assert add_up({}, read_counts(store, "serum", "2026-12-01", parts)) == {
        "funnel": {},
        "clicks": {},
        "traffic": {"page": {}},
    }
    tally = Tally(store, TOKYO)
    tally.count(event("clicked", product="rose"))
    tally.count(event("viewed", at="2026-12-02T03:00:00.000Z"))
    tally.flush()
    assert add_up({}, read_counts(store, "serum", "2026-12-01", ["funnel", "clicks"])) == {
        "funnel": {"clicked": 1},
        "clicks": {"rose": 1},
    }
    assert read_counts(store, "serum", "2026-12-02", ["funnel"]) == {"funnel": {"viewed": 1}}


def test_a_day_the_store_refuses_is_kept_and_the_other_days_are_written(store, monkeypatch):  # noqa: F811
    from quiz.web import tally as tally_module

    real = tally_module.add_counts

    def refusing(store, quiz_id, day, counts):
        if day == "2026-12-01":
            raise KeyError("a record the code did not expect")
        real(store, quiz_id, day, counts)

    monkeypatch.setattr(tally_module, "add_counts", refusing)
    tally = Tally(store, TOKYO)
    tally.count(event("viewed"))
    tally.count(event("viewed", at="2026-12-02T03:00:00.000Z"))
    tally.flush()
    assert read_counts(store, "serum", "2026-12-02", ["funnel"]) == {"funnel": {"viewed": 1}}
    monkeypatch.setattr(tally_module, "add_counts", real)
    tally.flush()
    assert read_counts(store, "serum", "2026-12-01", ["funnel"]) == {"funnel": {"viewed": 1}}


def test_a_period_adds_its_days_up_exactly_past_a_day_s_cap():
    total: dict = {}
    for day in range(3):
        pages = {f"https://shop.example/{day}-{n}": {"viewed": 1} for n in range(400)}
        add_up(total, {"traffic": {"page": pages}})
    assert len(total["traffic"]["page"]) == 1200 and OTHER not in total["traffic"]["page"]
