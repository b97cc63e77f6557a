//! The one writer of the ledger and the progress: a thread that appends rows, syncs the
//! write-ahead ones before their worker goes on, and reports each outcome.

use super::*;

/// The writer thread: appends rows, syncs once per batch, then releases the workers
/// waiting on their `submitting` rows.
pub(super) fn write_rows(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    mut writer: ledger::Writer,
    mut reporter: Box<dyn Reporter>,
) -> (Summary, Option<ledger::LedgerError>) {
    let mut summary = Summary::default();
    let mut batch: Vec<Msg> = Vec::with_capacity(256);
    let mut unsynced = false;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut result = Ok(());
        for m in &batch {
            if result.is_ok() {
                result = writer.append(&m.row);
            }
        }
        // Sync when a worker waits on it (a `submitting` row); outcome rows ride along
        // with the next sync, and the last ones are synced when the channel closes.
        if result.is_ok() && batch.iter().any(|m| m.synced.is_some()) {
            result = writer.sync();
            unsynced = false;
        } else {
            unsynced = true;
        }
        let ok = result.is_ok();
        for m in batch.drain(..) {
            if let Some(done) = m.synced {
                let _ = done.send(ok);
            }
            if let (true, Some(end)) = (ok, m.end) {
                match end {
                    Final::Placed => match m.row.event {
                        Event::Renewed => summary.renewed += 1,
                        Event::Reissued => summary.reissued += 1,
                        Event::Replaced => summary.replaced += 1,
                        Event::UpdateDcv => summary.dcv_updated += 1,
                        _ => summary.placed += 1,
                    },
                    Final::Found => summary.found += 1,
                    Final::Failed => summary.failed += 1,
                    Final::Unknown => summary.unknown += 1,
                }
                if matches!(end, Final::Failed | Final::Unknown) {
                    summary.problems.push(Problem {
                        key: m.row.key.clone(),
                        outcome: if end == Final::Failed {
                            "failed"
                        } else {
                            "unknown"
                        },
                        code: m.row.code,
                        message: m.row.message.clone(),
                    });
                }
                reporter.outcome(&m.row, end);
            }
        }
        reporter.flush();
        if let Err(e) = result {
            reporter.notice(&format!("cannot write the ledger, stopping: {e}"));
            // Refuse every later sync request so that nothing more is sent.
            rx.close();
            while let Some(m) = rx.blocking_recv() {
                if let Some(done) = m.synced {
                    let _ = done.send(false);
                }
            }
            return (summary, Some(e));
        }
    }
    if unsynced && let Err(e) = writer.sync() {
        return (summary, Some(e));
    }
    (summary, None)
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that asks for its write-ahead row to be synced is answered only once the row
    /// is durable; outcome rows are synced at the latest when the run ends.
    #[test]
    fn a_write_ahead_row_is_durable_before_the_worker_goes_on() {
        let dir = std::env::temp_dir().join(format!("nicsrs-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (writer, _) = ledger::Writer::open(&dir.join("l.csv"), Api::Sandbox).expect("ledger");
        let durable = writer.durable_rows();
        let reporter: Box<dyn Reporter> = Box::new(crate::report::JsonReporter::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::spawn(move || write_rows(rx, writer, reporter));
        let row = |event| Row {
            ref_id: "r-a".into(),
            ..Row::about(Api::Sandbox, event, "a")
        };
        let (done, synced) = oneshot::channel();
        let sent = tx.send(Msg {
            row: row(Event::Submitting),
            end: None,
            synced: Some(done),
        });
        assert!(sent.is_ok(), "sent");
        assert!(synced.blocking_recv().expect("answered"), "written");
        assert_eq!(
            durable.load(Ordering::SeqCst),
            1,
            "durable before the answer"
        );
        let sent = tx.send(Msg {
            row: row(Event::Placed),
            end: None,
            synced: None,
        });
        assert!(sent.is_ok(), "sent");
        drop(tx);
        let (_, failure) = thread.join().expect("writer");
        assert!(failure.is_none());
        assert_eq!(
            durable.load(Ordering::SeqCst),
            2,
            "the outcome synced at the end"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
