"""The SDK's helpers, natively: `python3 -m unittest discover -s tests` from plugins/python/sdk.

These pin down the behaviour each helper documents; the parity tests in host/tests run
every helper against its Rust twin on generated inputs.
"""

import io
import unittest

from cutover_plugin import (
    ClearStream, Connection, InvalidInput, NeedsOperator, RawConnection, StateOut, StreamDescriptor,
    UnsupportedShape, catalog, config, jsontext, naming, schema, state,
)


class JsonText(unittest.TestCase):
    def test_floats_are_written_as_rust_writes_them(self):
        cases = {
            1.0: "1.0", 1.5e16: "1.5e+16", 1e16: "1e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001",
            0.00001234: "0.00001234", 1e-7: "1e-7", -2.5e-10: "-2.5e-10", -0.0: "-0.0", 5e-324: "5e-324",
            1.7976931348623157e308: "1.7976931348623157e+308", 0.1: "0.1", 123456.789: "123456.789",
        }
        for value, text in cases.items():
            self.assertEqual(jsontext.number(value), text, repr(value))

    def test_documents_are_compact_in_insertion_order_with_json_escapes_only(self):
        value = {"b": [1, 2.5e20, 2.5e-7, True, None], "a": "é\u2028\x7f\n\"\\\x01"}
        self.assertEqual(jsontext.dumps(value), '{"b":[1,2.5e+20,2.5e-7,true,null],"a":"é\u2028\x7f\\n\\"\\\\\\u0001"}')

    def test_reading_refuses_what_serde_json_refuses(self):
        for text in ["NaN", "[Infinity]", "1e400", "[1,]", "01"]:
            with self.assertRaises(ValueError, msg=text):
                jsontext.loads(text)

    def test_equality_tells_integers_floats_and_booleans_apart(self):
        self.assertFalse(jsontext.equal(1, 1.0))
        self.assertFalse(jsontext.equal([True], [1]))
        self.assertTrue(jsontext.equal({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}))
        self.assertTrue(jsontext.equal({"a": 1, "b": 2}, {"b": 2, "a": 1}))


def entry(name, mode="incremental"):
    return {"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"],
                       "source_defined_cursor": True, "default_cursor_field": ["DATE"]},
            "sync_mode": mode, "cursor_field": ["DATE"], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]}


class Catalog(unittest.TestCase):
    def test_rename_keeps_the_users_choices(self):
        c = {"streams": [entry("AdvertizerReport"), entry("boards", "full_refresh")]}
        self.assertTrue(catalog.rename_stream(c, "AdvertizerReport", "AdvertiserReport"))
        e = catalog.find(c, "AdvertiserReport")
        self.assertEqual((e["sync_mode"], e["cursor_field"], e["primary_key"]), ("incremental", ["DATE"], [["id"]]))
        self.assertFalse(catalog.rename_stream(c, "missing", "x"))
        self.assertEqual(catalog.incremental_streams(c), [StreamDescriptor("AdvertiserReport")])

    def test_refresh_drops_an_unsupported_mode_and_takes_the_source_primary_key(self):
        e = entry("r")
        changed = catalog.refresh_stream(e, {"name": "r", "json_schema": {}, "supported_sync_modes": ["full_refresh"],
                                             "source_defined_primary_key": [["id"], ["date"]]})
        self.assertEqual(changed, ["sync_mode", "primary_key"])
        self.assertEqual((e["sync_mode"], e["primary_key"]), ("full_refresh", [["id"], ["date"]]))

    def test_unknown_streams_are_refused(self):
        with self.assertRaises(UnsupportedShape):
            catalog.check_known({"streams": [entry("x")]}, lambda n: False, lambda n: f"no {n}")


class Config(unittest.TestCase):
    def test_moves_a_field_and_refuses_a_conflict_without_changing_anything(self):
        c = {"account_id": "1", "client_id": "abc"}
        self.assertTrue(config.move_field(c, "/client_id", "/credentials/client_id"))
        self.assertEqual(c, {"account_id": "1", "credentials": {"client_id": "abc"}})
        c = {"a": 1, "b": 2}
        with self.assertRaises(NeedsOperator):
            config.move_field(c, "/a", "/b")
        self.assertEqual(c, {"a": 1, "b": 2})

    def test_escaped_pointers(self):
        c = {"a/b": {"x": 1}}
        self.assertEqual(config.remove_field(c, "/a~1b/x"), 1)
        config.set_field(c, "/n/m", True)
        self.assertEqual(c, {"a/b": {}, "n": {"m": True}})


class Naming(unittest.TestCase):
    def test_snake_case_like_the_cdk(self):
        for name, snake in [("CustomMyReport", "custom_my_report"), ("CustomHTTPReport2x", "custom_http_report2x"),
                            ("Custom_Weird Name", "custom__weird _name"), ("CustomAB", "custom_ab")]:
            self.assertEqual(naming.camel_to_snake(name), snake)
        with self.assertRaises(InvalidInput):
            naming.config_stream_names({"custom_insights": [{}]}, "custom_insights", "Custom")


class Schema(unittest.TestCase):
    def test_marks_nested_date_times_once(self):
        s = {"type": "object", "properties": {"at": {"type": ["null", "string"], "format": "date-time"},
                                              "items": {"type": "array", "items": {"type": "string", "format": "date-time"}}}}
        self.assertEqual(schema.mark_date_time(s, "timestamp_without_timezone"), 2)
        self.assertEqual(schema.mark_date_time(s, "timestamp_without_timezone"), 0)

    def test_retypes_listed_properties_once(self):
        changes = [schema.TypeChange("deals", "/properties/id", lambda: {"type": ["null", "string"]})]
        s = {"properties": {"id": {"type": ["null", "integer"]}}}
        self.assertEqual(schema.retype(s, "deals", changes), ['/properties/id from ["null","integer"] to ["null","string"]'])
        self.assertEqual(schema.retype(s, "deals", changes), [])
        with self.assertRaises(UnsupportedShape):
            schema.retype({"properties": {"id": 3}}, "deals", changes)


def messages():
    return [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"updated_time": 1}}},
        {"type": "GLOBAL", "global": {"shared_state": {}, "stream_states": [
            {"stream_descriptor": {"name": "actors", "namespace": "public"}, "stream_state": {"id": "m"}}]}},
        {"data": {"a": 1, "legacy_one": {"DATE": "2021-06-09"}, "z": 2}},
    ]


class State(unittest.TestCase):
    def test_finds_renames_replaces_and_removes_in_every_form(self):
        s = messages()
        self.assertEqual(state.stream_state(s, "actors"), {"id": "m"})
        self.assertIs(state.stream_state(s, "nope", default=state.ABSENT), state.ABSENT)
        self.assertTrue(state.rename_stream(s, "legacy_one", "legacy_two"))
        self.assertEqual(jsontext.dumps(s[2]), '{"data":{"a":1,"legacy_two":{"DATE":"2021-06-09"},"z":2}}')
        self.assertEqual(state.replace_stream_state(s, "campaigns", {"states": []}), {"updated_time": 1})
        self.assertEqual(state.remove_stream(s, "campaigns"), {"states": []})
        self.assertEqual(len(s), 2)

    def test_legacy_to_per_partition_on_text(self):
        text = ('[{"type":"STREAM","stream":{"stream_descriptor":{"name":"campaigns"},'
                '"stream_state":{"1":{"updated_time":5},"2":{"updated_time":"x"}}}},{"type":"GLOBAL"}]')
        for variant in (text, text.replace(":5", ": 5")):
            out = io.StringIO()
            self.assertTrue(state.legacy_to_per_partition(variant, "campaigns", "id", "updated_time", out))
            migrated = jsontext.loads(out.getvalue())
            self.assertEqual(migrated[0]["stream"]["stream_state"]["states"][1],
                             {"partition": {"id": "2", "parent_slice": {}}, "cursor": {"updated_time": "x"}})
            self.assertEqual(migrated[1], {"type": "GLOBAL"})
        for unchanged in ('[{"type":"STREAM","stream":{"stream_descriptor":{"name":"campaigns"},"stream_state":{"states":[]}}}]', "[]"):
            out = io.StringIO()
            self.assertFalse(state.legacy_to_per_partition(unchanged, "campaigns", "id", "updated_time", out))
            self.assertEqual(out.getvalue(), unchanged)
        for broken in ("{", "[5]", "[{}]x", '[{"type":5}]'):
            out = io.StringIO()
            with self.assertRaises(InvalidInput, msg=broken):
                state.legacy_to_per_partition(broken, "campaigns", "id", "updated_time", out)
            self.assertEqual(out.getvalue(), "", "nothing is written before the whole state is checked")


class Types(unittest.TestCase):
    def test_connections_are_parsed_and_checked(self):
        c = RawConnection("c", "x", "1.0.0", "{}", '{"streams":[]}', "null").parse()
        self.assertEqual(c.state, [])
        for bad in [("[]", '{"streams":[]}', "[]"), ("{}", "{}", "[]"), ("{}", '{"streams":[]}', "{}"), ("{", "{}", "[]")]:
            with self.assertRaises(InvalidInput):
                Connection.parse("c", "x", "1.0.0", *bad)

    def test_actions_are_kept_once_and_the_state_is_streamed_in_chunks(self):
        out = Connection("c", "x", "1", {}, {"streams": []}, []).into_outcome()
        out.action(ClearStream(StreamDescriptor("s"), "r"))
        out.action(ClearStream(StreamDescriptor("s"), "r"))
        self.assertEqual(len(out.actions), 1)
        sent = []
        sink = StateOut(sent.append)
        sink.write("x" * (StateOut.CHUNK + 1))
        sink.write("]")
        sink.flush()
        self.assertEqual([len(c) for c in sent], [StateOut.CHUNK + 1, 1])


if __name__ == "__main__":
    unittest.main()
