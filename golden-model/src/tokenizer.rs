//! Text ⇄ token ids for a Hugging Face checkpoint folder, and its chat template.
//!
//! `tokenizer.json` is read with the `tokenizers` crate (the Rust core of HF `tokenizers`).
//! `tokenizer_config.json`, when present, supplies the chat template and the special tokens
//! (`bos_token`, `eos_token`). Templates are rendered with minijinja in the mode transformers
//! uses for `apply_chat_template` (`trim_blocks`, `lstrip_blocks`, `raise_exception`, Python
//! string methods), and the rendered text is encoded without adding special tokens again, as
//! transformers does.
//!
//! [`TextStream`] turns a growing list of ids into text that is safe to print: a multi-byte
//! UTF-8 character split across tokens is held back until it is complete.
//!
//! A `tokenizer.json` is untrusted input, and the `tokenizers` crate panics on some malformed
//! ones (an `expect` when a decoder's JSON is broken, others on fields its builders would have
//! refused). The file is first checked to be JSON here, and every call into the crate runs
//! under [`guarded`], which turns a panic into [`Error::Tokenizer`] without printing it.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// One chat turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

thread_local! {
    /// Set while this thread runs a [`guarded`] call: its panics are reported as errors.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, a call into the `tokenizers` crate; a panic inside it becomes `Err` with the
/// panic's message. A panic hook installed once (in front of the one in place) stays silent
/// for guarded calls and hands every other panic to the previous hook.
fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    r.map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!("the tokenizers library failed on it ({what})")
    })
}

/// A tokenizer with the special tokens and chat template of its checkpoint.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    /// `inner.get_vocab_size(true)`, read once: that call builds a copy of the whole vocabulary.
    vocab_size: usize,
    chat_template: Option<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("path", &self.path)
            .field("vocab_size", &self.vocab_size())
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .field("chat_template", &self.chat_template.is_some())
            .finish()
    }
}

/// A special token in `tokenizer_config.json`: a plain string or an `AddedToken` object.
fn token_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

impl Tokenizer {
    /// Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            return Err(Error::Tokenizer {
                path,
                message: "file not found".into(),
            });
        }
        let bytes = crate::limits::read_bytes(&path, crate::limits::TOKENIZER_BYTES)?;
        // JSON first: the crate panics on a syntax error inside some of its fields.
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        let tok_err = |message: String| Error::Tokenizer {
            path: path.clone(),
            message,
        };
        let inner = guarded(|| tokenizers::Tokenizer::from_bytes(bytes))
            .map_err(tok_err)?
            .map_err(|e| tok_err(e.to_string()))?;
        let vocab_size = guarded(|| inner.get_vocab_size(true)).map_err(tok_err)?;
        let mut tok = Tokenizer {
            inner,
            path,
            vocab_size,
            chat_template: None,
            bos_token: None,
            eos_token: None,
        };
        let cfg_path = dir.join("tokenizer_config.json");
        if cfg_path.exists() {
            let text = crate::limits::read_text(&cfg_path, crate::limits::TOKENIZER_CONFIG_BYTES)?;
            let cfg: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
                path: cfg_path.clone(),
                source,
            })?;
            tok.bos_token = token_string(cfg.get("bos_token"));
            tok.eos_token = token_string(cfg.get("eos_token"));
            tok.chat_template = match cfg.get("chat_template") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                // A list of named templates: take the one named "default".
                Some(Value::Array(list)) => list
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                    .and_then(|t| t.get("template"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                Some(other) => {
                    return Err(Error::Tokenizer {
                        path: cfg_path,
                        message: format!(
                            "chat_template: expected a string or a list, found {other}"
                        ),
                    })
                }
            };
        }
        // A separate chat_template.jinja (newer transformers) wins when present.
        let jinja = dir.join("chat_template.jinja");
        if jinja.exists() {
            tok.chat_template = Some(crate::limits::read_text(
                &jinja,
                crate::limits::TOKENIZER_CONFIG_BYTES,
            )?);
        }
        Ok(tok)
    }

    fn err(&self, message: impl std::fmt::Display) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    /// Encodes text. `add_special_tokens` applies the tokenizer's post-processor (e.g. BOS).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = guarded(|| self.inner.encode(text, add_special_tokens))
            .map_err(|e| self.err(e))?
            .map_err(|e| self.err(e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Decodes ids to text; special tokens are dropped when `skip_special_tokens`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let vocab = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(Error::TokenOutOfRange { id, vocab });
        }
        guarded(|| self.inner.decode(ids, skip_special_tokens))
            .map_err(|e| self.err(e))?
            .map_err(|e| self.err(e))
    }

    /// Number of ids the tokenizer knows, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Id of a token given by its string, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        guarded(|| self.inner.token_to_id(token)).ok().flatten()
    }

    pub fn bos_token(&self) -> Option<&str> {
        self.bos_token.as_deref()
    }

    pub fn eos_token(&self) -> Option<&str> {
        self.eos_token.as_deref()
    }

    /// Id of the `eos_token` named by `tokenizer_config.json`.
    pub fn eos_token_id(&self) -> Option<u32> {
        self.eos_token.as_deref().and_then(|t| self.token_to_id(t))
    }

    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Renders the conversation with the checkpoint's chat template.
    pub fn apply_chat_template(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let template = self.chat_template.as_deref().ok_or_else(|| {
            Error::Template(format!(
                "{}: the checkpoint has no chat_template",
                self.path.with_file_name("tokenizer_config.json").display()
            ))
        })?;
        render_chat_template(
            template,
            messages,
            add_generation_prompt,
            self.bos_token.as_deref().unwrap_or(""),
            self.eos_token.as_deref().unwrap_or(""),
        )
    }

    /// Renders the chat template and encodes it (without adding special tokens twice).
    pub fn encode_chat(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        let text = self.apply_chat_template(messages, add_generation_prompt)?;
        self.encode(&text, false)
    }
}

/// Steps (minijinja fuel) a chat template may take: real templates take a few hundred per
/// message; this bounds a hostile template's loops to under a second.
pub const TEMPLATE_FUEL: u64 = 5_000_000;
/// Bytes a rendered conversation may have (a prompt beyond any context window).
pub const TEMPLATE_OUTPUT_BYTES: usize = 64 << 20;

/// The rendered text, refusing to grow past [`TEMPLATE_OUTPUT_BYTES`].
struct BoundedText {
    out: Vec<u8>,
    over: bool,
}

impl std::io::Write for BoundedText {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + b.len() > TEMPLATE_OUTPUT_BYTES {
            self.over = true;
            return Err(std::io::Error::other("rendered text too long"));
        }
        self.out.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders a Hugging Face chat template the way transformers does, within
/// [`TEMPLATE_FUEL`] steps and [`TEMPLATE_OUTPUT_BYTES`] of output.
pub fn render_chat_template(
    template: &str,
    messages: &[Message],
    add_generation_prompt: bool,
    bos_token: &str,
    eos_token: &str,
) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> std::result::Result<minijinja::Value, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env.add_template("chat", template)
        .map_err(|e| Error::Template(e.to_string()))?;
    let tmpl = env
        .get_template("chat")
        .map_err(|e| Error::Template(e.to_string()))?;
    let mut text = BoundedText {
        out: Vec::new(),
        over: false,
    };
    let ctx = minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos_token,
        eos_token => eos_token,
    };
    match tmpl.render_captured_to(ctx, &mut text) {
        Ok(_) => {}
        Err(_) if text.over => {
            return Err(Error::Template(format!(
                "the rendered conversation exceeds {TEMPLATE_OUTPUT_BYTES} bytes"
            )))
        }
        Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => {
            return Err(Error::Template(format!(
                "the template ran more than {TEMPLATE_FUEL} steps"
            )))
        }
        // Show the template's own message for raise_exception, not minijinja's wrapping.
        Err(e) => {
            return Err(Error::Template(
                e.detail()
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string()),
            ))
        }
    }
    String::from_utf8(text.out).map_err(|e| Error::Template(e.to_string()))
}

/// Incremental detokenizer: feed ids one at a time, get back only complete text.
///
/// Decodes the ids since the last emitted boundary together with a few ids of left context
/// (so that tokenizers that strip a leading space or merge bytes see the same neighbours as a
/// full decode), and emits the new suffix once it no longer ends in a partial UTF-8 character
/// (the byte-level decoder shows those as U+FFFD).
#[derive(Debug)]
pub struct TextStream<'a> {
    tok: &'a Tokenizer,
    ids: Vec<u32>,
    /// Start of the decode window in `ids`.
    prefix_start: usize,
    /// `ids[prefix_start..read_start]` is context already emitted.
    read_start: usize,
    skip_special_tokens: bool,
}

impl<'a> TextStream<'a> {
    pub fn new(tok: &'a Tokenizer, skip_special_tokens: bool) -> Self {
        TextStream {
            tok,
            ids: Vec::new(),
            prefix_start: 0,
            read_start: 0,
            skip_special_tokens,
        }
    }

    /// Adds a token; returns the text that became complete with it (possibly empty).
    pub fn push(&mut self, id: u32) -> Result<String> {
        self.ids.push(id);
        let prefix = self.tok.decode(
            &self.ids[self.prefix_start..self.read_start],
            self.skip_special_tokens,
        )?;
        let full = self
            .tok
            .decode(&self.ids[self.prefix_start..], self.skip_special_tokens)?;
        if full.len() > prefix.len() && !full.ends_with('\u{FFFD}') && full.starts_with(&prefix) {
            let text = full[prefix.len()..].to_owned();
            self.prefix_start = self.read_start;
            self.read_start = self.ids.len();
            Ok(text)
        } else {
            Ok(String::new())
        }
    }

    /// Whatever is still held back (an incomplete character at the end of generation).
    pub fn finish(&mut self) -> Result<String> {
        let prefix = self.tok.decode(
            &self.ids[self.prefix_start..self.read_start],
            self.skip_special_tokens,
        )?;
        let full = self
            .tok
            .decode(&self.ids[self.prefix_start..], self.skip_special_tokens)?;
        self.prefix_start = self.ids.len();
        self.read_start = self.ids.len();
        Ok(full
            .strip_prefix(prefix.as_str())
            .map(str::to_owned)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder holding `tokenizer.json` with `text`.
    fn tokenizer_dir(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-tok-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tokenizer.json"), text).unwrap();
        dir
    }

    const WORD_LEVEL: &str = r#"{"version":"1.0","added_tokens":[],"normalizer":NORM,
        "pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":DEC,
        "model":{"type":"WordLevel","vocab":{"[UNK]":0,"hello":1},"unk_token":"[UNK]"}}"#;

    #[test]
    fn tokenizer_chat_template_loops_and_output_are_bounded() {
        // Found by fuzzing: nested loops that ran for hours, and text that grew past 2 GB.
        let m = [Message::new("user", "hi")];
        let hang = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}";
        let e = render_chat_template(hang, &m, true, "", "").unwrap_err();
        assert!(e.to_string().contains("steps"), "{e}");
        let big = r#"{% for a in range(90) %}{{ "abcdefgh" * 12000000 }}{% endfor %}"#;
        let e = render_chat_template(big, &m, true, "", "").unwrap_err();
        assert!(e.to_string().contains("bytes"), "{e}");
    }

    #[test]
    fn tokenizer_broken_json_inside_a_decoder_is_an_error() {
        // Found by fuzzing: the tokenizers crate panicked ("Helper") on a syntax error inside
        // the decoder's object.
        let text = WORD_LEVEL
            .replace("NORM", "null")
            .replace("DEC", r#"{"type":"ByteLevel",x}"#);
        let dir = tokenizer_dir("decoder-syntax", &text);
        let err = Tokenizer::from_dir(&dir).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err}");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tokenizer_panics_inside_the_tokenizers_crate_are_errors() {
        // Valid JSON the crate panics on ("Precompiled": an invalid charsmap).
        let text = WORD_LEVEL
            .replace(
                "NORM",
                r#"{"type":"Precompiled","precompiled_charsmap":"AAAA"}"#,
            )
            .replace("DEC", "null");
        let dir = tokenizer_dir("precompiled", &text);
        let err = Tokenizer::from_dir(&dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("tokenizer.json: tokenizer: the tokenizers library failed"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        // Guarded calls stay quiet and are errors; the thread is still usable afterwards.
        let caught = guarded(|| -> u32 { panic!("boom") }).unwrap_err();
        assert!(caught.contains("boom"), "{caught}");
        assert_eq!(guarded(|| 7), Ok(7));
    }

    const SMOL_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn tokenizer_chat_template_renders() {
        let out = render_chat_template(SMOL_TEMPLATE, &[Message::new("user", "Hi")], true, "", "")
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn tokenizer_chat_template_python_methods_and_raise() {
        let t = "{{ bos_token }}{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}{{ m.content.strip() }}|{% endfor %}";
        let ok =
            render_chat_template(t, &[Message::new("user", "  a  ")], false, "<s>", "").unwrap();
        assert_eq!(ok, "<s>a|");
        let err = render_chat_template(t, &[Message::new("tool", "x")], false, "", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad role tool"), "{err}");
    }

    #[test]
    fn tokenizer_missing_file_is_typed_error() {
        let err = Tokenizer::from_dir("/nonexistent-dir").unwrap_err();
        assert!(matches!(err, Error::Tokenizer { .. }), "{err}");
    }
}
