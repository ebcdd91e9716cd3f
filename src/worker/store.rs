//! The browser's storage for the last trained model: one IndexedDB database (`aeplay`)
//! with one object store (`models`) holding the saved model's safetensors bytes under the
//! key `last`. Every call opens the database, does one thing and closes it again.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode};

use super::scope::scope;

const DB: &str = "aeplay";
const STORE: &str = "models";
const KEY: &str = "last";

fn request_error(req: &IdbRequest) -> String {
    match req.error() {
        Ok(Some(e)) => format!("{}: {}", e.name(), e.message()),
        _ => "the browser's storage refused the request".into(),
    }
}

/// Waits for a request's success (or error) event.
async fn done(req: &IdbRequest) -> Result<JsValue, String> {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    let r = JsFuture::from(p).await;
    req.set_onsuccess(None);
    req.set_onerror(None);
    match r {
        Ok(_) => req.result().map_err(|_| request_error(req)),
        Err(_) => Err(request_error(req)),
    }
}

/// Waits for a transaction to commit.
async fn committed(tx: &IdbTransaction) -> Result<(), String> {
    let p = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    JsFuture::from(p).await.map(|_| ()).map_err(|_| match tx.error() {
        Some(e) => format!("{}: {}", e.name(), e.message()),
        None => "the browser's storage did not keep the model".into(),
    })
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = scope()
        .indexed_db()
        .ok()
        .flatten()
        .ok_or("this browser gives the page no IndexedDB storage")?;
    let req: IdbOpenDbRequest = factory.open_with_u32(DB, 1).map_err(|e| format!("{e:?}"))?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let db = ev
            .target()
            .and_then(|t| t.dyn_into::<IdbOpenDbRequest>().ok())
            .and_then(|r| r.result().ok())
            .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
        // Version 1 is the only version: an upgrade means a new, empty database.
        if let Some(db) = db {
            let _ = db.create_object_store(STORE);
        }
    });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = done(&req).await;
    req.set_onupgradeneeded(None);
    drop(upgrade);
    db?.dyn_into::<IdbDatabase>().map_err(|_| "IndexedDB gave no database".into())
}

fn object_store(db: &IdbDatabase, mode: IdbTransactionMode) -> Result<(IdbTransaction, IdbObjectStore), String> {
    let tx = db.transaction_with_str_and_mode(STORE, mode).map_err(|e| format!("{e:?}"))?;
    let st = tx.object_store(STORE).map_err(|e| format!("{e:?}"))?;
    Ok((tx, st))
}

/// Keeps `bytes` as the stored model (replacing any).
pub async fn put(bytes: &[u8]) -> Result<(), String> {
    let db = open().await?;
    let r = async {
        let (tx, st) = object_store(&db, IdbTransactionMode::Readwrite)?;
        st.put_with_key(&Uint8Array::from(bytes), &KEY.into()).map_err(|e| format!("{e:?}"))?;
        committed(&tx).await
    }
    .await;
    db.close();
    r
}

/// The stored model's bytes, if there is one.
pub async fn get() -> Result<Option<Vec<u8>>, String> {
    let db = open().await?;
    let r = async {
        let (_tx, st) = object_store(&db, IdbTransactionMode::Readonly)?;
        let req = st.get(&KEY.into()).map_err(|e| format!("{e:?}"))?;
        let v = done(&req).await?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        match v.dyn_into::<Uint8Array>() {
            Ok(a) => Ok(Some(a.to_vec())),
            // Something else under our key: hand back no bytes, which do not parse.
            Err(_) => Ok(Some(Vec::new())),
        }
    }
    .await;
    db.close();
    r
}

/// Forgets the stored model.
pub async fn delete() -> Result<(), String> {
    let db = open().await?;
    let r = async {
        let (tx, st) = object_store(&db, IdbTransactionMode::Readwrite)?;
        st.delete(&KEY.into()).map_err(|e| format!("{e:?}"))?;
        committed(&tx).await
    }
    .await;
    db.close();
    r
}
