//! Chat templates (`chat_template` of `tokenizer_config.json`, or `chat_template.jinja`) into
//! `render_chat_template` with a short conversation: the text or an error, in bounded time
//! and memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_golden::tokenizer::{render_chat_template, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(template) = std::str::from_utf8(data) else {
        return;
    };
    let messages = [
        Message::new("system", "You are terse."),
        Message::new("user", "Hello, wörld {{ 1 }} {% raw %}"),
        Message::new("assistant", "Hi."),
    ];
    let _ = render_chat_template(template, &messages, true, "<s>", "</s>");
});
