//! The emulator under hostile input: garbage, case tricks in parameter names, and slow clients.

use std::time::Duration;

use iotplan::emulator::Config;
use iotplan::wire::ops::{QueryProduct, QueryProductList};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{TestEnv, common, now_stamp, post, signed_v1};

const DEMO_SECRET: &str = iotplan::emulator::DEMO_ACCESS_KEY_SECRET;
#[tokio::test]
async fn hostile_requests_get_error_answers() {
    let env = TestEnv::fast().await;
    let garbage: Vec<(String, Option<Vec<u8>>)> = vec![
        (String::new(), None),
        ("Action".into(), None),
        ("%FF%FE=%C3%28".into(), None),
        ("a=1&a=2".into(), None),
        (format!("x={}", "y".repeat(60_000)), None),
        (
            "Action=QueryProduct".into(),
            Some(b"\xff\xfe\x00garbage=\x80".to_vec()),
        ),
        (
            "Action=QueryProduct".into(),
            Some(vec![b'a'; 9 * 1024 * 1024]),
        ),
        (
            "DeviceName.0=x&DeviceName.x=y".into(),
            Some(b"%%%%&&&===".to_vec()),
        ),
    ];
    for (query, body) in garbage {
        let (status, answer) = post(&env, &query, body).await;
        assert!(
            status >= 400,
            "{status} for {}",
            query.chars().take(40).collect::<String>()
        );
        assert!(
            answer["Code"].is_string() || status == 413 || status == 414,
            "error envelope for {}",
            query.chars().take(40).collect::<String>()
        );
    }
    // Still serving.
    let client = env.client();
    client
        .call(&QueryProductList {
            current_page: 1,
            page_size: 10,
            aliyun_commodity_code: None,
        })
        .await
        .expect("alive");
}

/// Parameter names are case-sensitive, as on the platform: a case variant is not the parameter,
/// cannot be slipped in after signing, and cannot shadow the real one.
#[tokio::test]
async fn case_tricks_in_parameter_names_are_refused() {
    let env = TestEnv::fast()
        .await
        .with_products(&["a1Product01", "a1Product02"]);
    let code = |answer: &(u16, serde_json::Value)| {
        (
            answer.0,
            answer.1["Code"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let query_product = |nonce: &str| common("QueryProduct", &now_stamp(), nonce);

    // A lower-case variant, correctly signed, is not ProductKey.
    let mut lower = query_product("case-1");
    lower.insert("productkey".into(), "a1Product01".into());
    let answer = post(&env, &signed_v1(lower, DEMO_SECRET), None).await;
    assert_eq!(code(&answer), (400, "MissingProductKey".to_owned()));

    // A variant added after signing breaks the signature.
    let mut signed = query_product("case-2");
    signed.insert("ProductKey".into(), "a1Product01".into());
    let query = format!("{}&PRODUCTKEY=a1Product02", signed_v1(signed, DEMO_SECRET));
    let answer = post(&env, &query, None).await;
    assert_eq!(code(&answer), (400, "SignatureDoesNotMatch".to_owned()));

    // Both spellings signed: only the exact name counts.
    let mut both = query_product("case-3");
    both.insert("ProductKey".into(), "a1Product01".into());
    both.insert("productKey".into(), "a1Product02".into());
    let answer = post(&env, &signed_v1(both, DEMO_SECRET), None).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["Data"]["ProductKey"], "a1Product01");

    // A percent-encoded name is the same name: it works alone, and is a duplicate beside the
    // plain spelling.
    let mut encoded = query_product("case-4");
    encoded.insert("ProductKey".into(), "a1Product01".into());
    let query = signed_v1(encoded, DEMO_SECRET).replace("ProductKey=", "Product%4Bey=");
    let answer = post(&env, &query, None).await;
    assert_eq!(answer.1["Data"]["ProductKey"], "a1Product01");
    let mut twice = query_product("case-5");
    twice.insert("ProductKey".into(), "a1Product01".into());
    let query = format!("{}&Product%4Bey=a1Product02", signed_v1(twice, DEMO_SECRET));
    let answer = post(&env, &query, None).await;
    assert_eq!(code(&answer), (400, "InvalidParameter".to_owned()));
    assert!(
        answer.1["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("more than once")
    );

    // The same name in the query and the body is refused, whichever the signature covers.
    let mut split = query_product("case-6");
    split.insert("ProductKey".into(), "a1Product01".into());
    let query = format!(
        "{}&ProductKey=a1Product02",
        signed_v1(split, DEMO_SECRET).replace("ProductKey=a1Product01&", "")
    );
    let answer = post(&env, &query, Some(b"ProductKey=a1Product01".to_vec())).await;
    assert_eq!(code(&answer), (400, "InvalidParameter".to_owned()));
    assert!(
        answer.1["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("both the query and the body")
    );

    // Common parameters: case variants are missing ones; values are exact.
    for (from, to, expected) in [
        ("Signature=", "signature=", "MissingSignature"),
        ("Action=", "action=", "MissingAction"),
        ("AccessKeyId=", "AccessKeyID=", "MissingAccessKeyId"),
        (
            "Action=QueryProduct",
            "Action=queryproduct",
            "SignatureDoesNotMatch",
        ),
        ("HMAC-SHA1", "hmac-sha1", "InvalidSignatureMethod"),
    ] {
        let mut params = query_product(&format!("case-{to}"));
        params.insert("ProductKey".into(), "a1Product01".into());
        let query = signed_v1(params, DEMO_SECRET).replacen(from, to, 1);
        let answer = post(&env, &query, None).await;
        assert_eq!(answer.1["Code"], expected, "{from} → {to}: {}", answer.1);
    }
    // An Action spelt in another case, correctly signed, is not an Action.
    let answer = post(
        &env,
        &signed_v1(common("queryproduct", &now_stamp(), "case-7"), DEMO_SECRET),
        None,
    )
    .await;
    assert_eq!(code(&answer), (404, "InvalidApi.NotFound".to_owned()));
    // Nothing above reached a product by a trick: the store is as seeded.
    let client = env.client();
    for key in ["a1Product01", "a1Product02"] {
        let product = client
            .call(&QueryProduct {
                product_key: key.into(),
            })
            .await
            .expect("product still there");
        assert_eq!(product.data.device_count, 0);
    }
}

async fn slow_env() -> TestEnv {
    TestEnv::start(Config {
        qps_scale: 0.0,
        client_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await
    .with_products(&["a1Product01"])
}

/// Reads until the emulator closes the connection (or 20 s pass, which fails the test).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the emulator kept a slow connection open");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client that sends its headers too slowly loses its connection, and meanwhile others are
/// served; one that sends its body too slowly gets 408 RequestTimeout.
#[tokio::test]
async fn slow_clients_are_cut_off_without_blocking_others() {
    let env = slow_env().await;
    let addr = env.running.addr;

    // Twenty connections stall in the middle of their headers.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"POST /?Action=QueryProduct HTTP/1.1\r\nHost: emulator\r\n")
            .await
            .expect("write");
        stalled.push(stream);
    }
    env.client()
        .call(&QueryProductList {
            current_page: 1,
            page_size: 10,
            aliyun_commodity_code: None,
        })
        .await
        .expect("served while slow clients wait");
    for mut stream in stalled {
        let answer = read_until_closed(&mut stream).await;
        assert!(
            answer.is_empty(),
            "no answer to a request that never arrived: {answer}"
        );
    }

    // One that trickles its headers a byte every 50 ms (10 s in all) is cut off long before.
    let request = format!(
        "POST /?{} HTTP/1.1\r\nHost: emulator\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(150)
    );
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut sent = 0;
    for byte in request.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        let mut probe = [0_u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(50), stream.read(&mut probe)).await
        {
            break;
        }
    }
    assert!(
        sent < request.len(),
        "a trickling client sent its whole request ({sent} bytes) without being cut off"
    );

    // Headers on time, body too slow: 408 with the gateway's error envelope.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"POST /?Action=QueryProduct HTTP/1.1\r\nHost: emulator\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nProductKey=",
        )
        .await
        .expect("write");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"Code\":\"RequestTimeout\""), "{answer}");
    assert!(
        env.running
            .emulator
            .requests()
            .iter()
            .any(|r| r.code.as_deref() == Some("RequestTimeout")),
        "the refusal is in the request log"
    );

    // Still serving.
    env.client()
        .call(&QueryProduct {
            product_key: "a1Product01".into(),
        })
        .await
        .expect("alive");
}
