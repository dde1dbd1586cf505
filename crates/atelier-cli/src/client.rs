//! The CLI's HTTP client for the native API: finds the server and the token by itself on the
//! server's machine, and turns error bodies into one clear line.

use crate::ClientArgs;
use anyhow::{Context, bail};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub struct Client {
    http: reqwest::Client,
    base: String,
    /// The token, once known: given, saved by the local server, or from `atelier login`
    /// (renewed first where it has expired).
    token: tokio::sync::OnceCell<String>,
    signed_in: Option<(crate::login::Credentials, std::path::PathBuf)>,
}

fn read_trimmed(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

/// The server's URL: `--url`, else the one the local server recorded in its home, else the
/// default address; without a trailing slash.
pub fn server_url(args: &ClientArgs, home: &std::path::Path) -> String {
    let url = args
        .url
        .clone()
        .or_else(|| read_trimmed(&home.join("url")))
        .unwrap_or_else(|| "http://127.0.0.1:7420".to_owned());
    url.trim_end_matches('/').to_owned()
}

impl Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let home = crate::home::home_folder(args.home.clone())?;
        let http = reqwest::Client::builder().build().context("cannot build the HTTP client")?;
        // `atelier login`'s credentials, for the server they are for.
        if args.token.is_none()
            && let Some(credentials) = crate::login::load(&home)?
            && args.url.as_deref().is_none_or(|url| url.trim_end_matches('/') == credentials.url)
        {
            return Ok(Client {
                http,
                base: credentials.url.clone(),
                token: tokio::sync::OnceCell::new(),
                signed_in: Some((credentials, home)),
            });
        }
        let base = server_url(args, &home);
        let token = match args.token.clone().or_else(|| read_trimmed(&home.join("token"))) {
            Some(token) => token,
            None => bail!(
                "no API token: run `atelier login`, or set ATELIER_TOKEN or --token (the server writes one to {} at first start)",
                home.join("token").display()
            ),
        };
        Ok(Client { http, base, token: tokio::sync::OnceCell::new_with(Some(token)), signed_in: None })
    }

    async fn token(&self) -> anyhow::Result<&str> {
        let token = self
            .token
            .get_or_try_init(|| async {
                match &self.signed_in {
                    Some((credentials, home)) => credentials.clone().current_token(&self.http, home).await,
                    None => bail!("no API token"),
                }
            })
            .await?;
        Ok(token)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .bearer_auth(self.token().await?)
            .send()
            .await
            .with_context(|| format!("cannot reach the Atelier server at {}", self.base))?;
        let status = response.status();
        let body = response.bytes().await.context("cannot read the server's response")?;
        let value: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
        if !status.is_success() {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let code = value.get("error_code").and_then(Value::as_str).unwrap_or("");
            bail!("{message} ({code}, HTTP {})", status.as_u16());
        }
        Ok(value)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<T> {
        let value = self.send(self.http.get(self.url(path)).query(query)).await?;
        serde_json::from_value(value).context("unexpected response from the server")
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        let value = self.send(self.http.post(self.url(path)).json(body)).await?;
        serde_json::from_value(value).context("unexpected response from the server")
    }

    pub async fn patch<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        let value = self.send(self.http.patch(self.url(path)).json(body)).await?;
        serde_json::from_value(value).context("unexpected response from the server")
    }

    /// The HTTP client, for requests that do not go to the API (scoring).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn put_json<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        let value = self.send(self.http.put(self.url(path)).json(body)).await?;
        serde_json::from_value(value).context("unexpected response from the server")
    }

    /// POSTs a JSON document as the user wrote it (the server reports mistakes by its lines).
    pub async fn post_json_text<T: DeserializeOwned>(&self, path: &str, text: String) -> anyhow::Result<T> {
        let request =
            self.http.post(self.url(path)).header(reqwest::header::CONTENT_TYPE, "application/json").body(text);
        serde_json::from_value(self.send(request).await?).context("unexpected response from the server")
    }

    /// PUTs a JSON document as the user wrote it.
    pub async fn put_json_text<T: DeserializeOwned>(&self, path: &str, text: String) -> anyhow::Result<T> {
        let request =
            self.http.put(self.url(path)).header(reqwest::header::CONTENT_TYPE, "application/json").body(text);
        serde_json::from_value(self.send(request).await?).context("unexpected response from the server")
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<()> {
        self.send(self.http.put(self.url(path)).json(body)).await.map(|_| ())
    }

    /// Uploads a local file as the body of a PUT, streamed in 1 MiB chunks.
    pub async fn put_file<T: DeserializeOwned>(&self, path: &str, file: &std::path::Path) -> anyhow::Result<T> {
        let (body, length) = file_body(file).await?;
        let request = self.http.put(self.url(path)).header(reqwest::header::CONTENT_LENGTH, length).body(body);
        let value = self.send(request).await?;
        serde_json::from_value(value).context("unexpected response from the server")
    }

    /// Downloads a GET's body into a new file, streamed; the file appears only when complete.
    pub async fn get_to_file(&self, path: &str, file: &std::path::Path) -> anyhow::Result<u64> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(self.token().await?)
            .send()
            .await
            .with_context(|| format!("cannot reach the Atelier server at {}", self.base))?;
        if !response.status().is_success() {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body.get("message").and_then(Value::as_str).unwrap_or("download failed");
            bail!("{message} (HTTP {})", status.as_u16());
        }
        if let Some(parent) = file.parent() {
            tokio::fs::create_dir_all(parent).await.with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut partial = file.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let file_out =
            tokio::fs::File::create(&partial).await.with_context(|| format!("cannot create {}", partial.display()))?;
        // Large writes: each write of a tokio file is a hop to a blocking thread.
        let mut out = tokio::io::BufWriter::with_capacity(4 << 20, file_out);
        let mut written = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.context("the download broke off")?;
            out.write_all(&chunk).await.with_context(|| format!("cannot write {}", partial.display()))?;
            written += chunk.len() as u64;
        }
        out.flush().await?;
        drop(out);
        tokio::fs::rename(&partial, file).await.with_context(|| format!("cannot write {}", file.display()))?;
        Ok(written)
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(self.url(path))).await.map(|_| ())
    }
}

/// Percent-encodes one path segment.
/// A local file as a request body streamed in 1 MiB chunks, and its length.
pub async fn file_body(file: &std::path::Path) -> anyhow::Result<(reqwest::Body, u64)> {
    let opened = tokio::fs::File::open(file).await.with_context(|| format!("cannot open {}", file.display()))?;
    let length = opened.metadata().await.with_context(|| format!("cannot read {}", file.display()))?.len();
    let chunks = futures::stream::unfold(opened, |mut opened| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 1 << 20];
        match opened.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok::<_, std::io::Error>(buffer), opened))
            }
            Err(error) => Some((Err(error), opened)),
        }
    });
    Ok((reqwest::Body::wrap_stream(chunks), length))
}

pub fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
