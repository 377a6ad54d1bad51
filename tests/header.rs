//! The committed C header must be exactly what cbindgen generates from the
//! current sources (build.rs writes the fresh one to OUT_DIR).

#[test]
fn committed_header_matches_cbindgen() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/microbatch.h"));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/microbatch.h"))
        .expect("include/microbatch.h is missing");
    assert!(
        generated == committed,
        "include/microbatch.h is stale: run `MICROBATCH_UPDATE_HEADER=1 cargo build` and commit it"
    );
}

#[test]
fn header_declares_the_whole_api() {
    // style = "both": signatures spell `enum mb_result` / `struct mb_status`,
    // the same C types as the typedef names the API documents.
    let raw = include_str!("../include/microbatch.h");
    assert!(raw.contains("typedef enum mb_result {"));
    let header = raw
        .replace("enum mb_result ", "mb_result ")
        .replace("struct mb_status ", "mb_status ")
        .replace("struct mb_config ", "mb_config ")
        .replace("struct mb_collector ", "mb_collector ");
    for decl in [
        "} mb_result;",
        "MB_ERR_INTERNAL = 12",
        "mb_config *mb_config_new(void);",
        "mb_result mb_config_set(mb_config *cfg, const char *key, const char *value);",
        "void mb_config_free(mb_config *cfg);",
        "typedef int32_t (*mb_frame_cb)(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count);",
        "mb_result mb_config_set_frame_callback(mb_config *cfg, mb_frame_cb cb, void *ctx);",
        "mb_result mb_collector_new(const mb_config *cfg, mb_collector **out);",
        "mb_result mb_collector_submit(mb_collector *c, const uint8_t *data, size_t len);",
        "mb_result mb_collector_flush(mb_collector *c, uint32_t timeout_ms);",
        "mb_result mb_collector_status(const mb_collector *c, mb_status *out);",
        "void mb_collector_free(mb_collector *c);",
        "typedef int32_t (*mb_event_cb)(void *ctx, const uint8_t *event, size_t len);",
        "size_t mb_last_error(char *buf, size_t len);",
        "const char *mb_result_name(mb_result r);",
        "mb_result mb_calibration_status_json(const char *path, char *buf, size_t len, size_t *needed);",
    ] {
        assert!(header.contains(decl), "header lacks `{decl}`");
    }
}
