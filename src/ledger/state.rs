//! Where each key stands, folded from its rows so that the result does not depend on the
//! order the rows are in: the ledger lives in Git, where `merge=union` interleaves two
//! branches' rows and a lost push drops some. Rows are ranked by their `time` (then their
//! place in the file, which breaks ties as the one writer wrote them); a call that
//! succeeded (a `placed`, `renewed`, `reissued` or `replaced` row with a certId) is never
//! outweighed by another row of the same refId, wherever that row is; and a key whose rows
//! disagree is marked `disordered`, so that the API is asked by refId before anything is
//! sent for it. Only the rows a decision can need are kept: memory grows with the keys,
//! not with the rows.

use std::sync::LazyLock;

use super::{Api, Event, Row};

/// A row kept by the fold: the line as read (one allocation; most kept rows are outweighed
/// by later ones before the read ends), built into a [`Row`] when the read ends.
#[derive(Debug)]
pub(super) enum Kept {
    /// An unquoted line, and where its `ref_id` cell is in it.
    Line { line: Box<str>, ref_id: (u32, u32) },
    /// A built row (a quoted line, a row a test folds, or any row once the read ended),
    /// boxed so that a kept line takes no more room than it needs.
    Row(Box<Row>),
}

impl Kept {
    fn ref_id(&self) -> &str {
        match self {
            Kept::Line { line, ref_id } => {
                line.get(ref_id.0 as usize..ref_id.1 as usize).unwrap_or("")
            }
            Kept::Row(r) => &r.ref_id,
        }
    }
}

/// What a slot shows if a row was somehow left unbuilt (never, once the read ended).
static UNBUILT: LazyLock<Row> = LazyLock::new(|| Row::about(Api::Live, Event::Status, ""));

/// A row's rank: its time (Unix seconds), then its position in the file.
type Rank = (u64, u64);

/// What the fold decides on, read from a row's cells before the row is built: most rows of
/// a long ledger are outweighed by later ones and never built at all.
#[derive(Clone, Copy, Debug)]
pub(super) struct View<'a> {
    /// The row's time, Unix seconds.
    pub time: u64,
    pub event: Event,
    pub ref_id: &'a str,
    pub cert_id: &'a str,
    /// Whether the `status` cell is set.
    pub has_status: bool,
    pub attempt: u32,
}

impl<'a> View<'a> {
    /// The view of a built row (tests and tools fold rows they hold).
    pub(super) fn of(row: &'a Row) -> View<'a> {
        View {
            time: super::read::unix_time(&row.time).unwrap_or(0),
            event: row.event,
            ref_id: &row.ref_id,
            cert_id: &row.cert_id,
            has_status: !row.status.is_empty(),
            attempt: row.attempt,
        }
    }
}

/// A success of a call: its refId and certId, kept for every call of the key (a handful).
#[derive(Debug)]
struct Success {
    /// The refId, then the certId (one allocation).
    ids: Box<str>,
    /// Where the certId starts in `ids`.
    split: u32,
    event: Event,
    rank: Rank,
}

impl Success {
    fn ref_id(&self) -> &str {
        self.ids.get(..self.split as usize).unwrap_or("")
    }

    fn cert_id(&self) -> &str {
        self.ids.get(self.split as usize..).unwrap_or("")
    }
}

/// One key's rows, folded as they are read.
#[derive(Debug, Default)]
pub(super) struct Fold {
    /// The rows kept; the slots below index into it.
    rows: Vec<Kept>,
    last: Option<(Rank, usize)>,
    current: Option<(Rank, usize)>,
    placed: Option<(Rank, usize)>,
    made: Option<(Rank, usize)>,
    status: Option<(Rank, usize)>,
    /// `update-dcv` rows ranked after the certificate in force was made.
    dcv_updates: Vec<(Rank, usize)>,
    /// Rows of calls (not `status`) ranked after the latest success and not superseded by
    /// a success of their refId: the call in progress, if any.
    pending: Vec<(Rank, usize)>,
    successes: Vec<Success>,
    attempts: u32,
    /// The latest time read so far in file order.
    latest_time: u64,
    disordered: bool,
    /// Its rows were dropped by [`Fold::forget_rows`].
    forgotten: bool,
}

impl Fold {
    /// Folds in the `position`th row of the file, seen as `v`; `build` makes the row, and
    /// is called only if the row is kept.
    pub(super) fn add(&mut self, v: View<'_>, build: impl FnOnce() -> Kept, position: u64) {
        self.attempts = self.attempts.max(v.attempt);
        if v.time < self.latest_time {
            // Written out of time order: rows of two runs interleaved by a merge, or a
            // clock that went back. Either way the API is asked before anything is sent.
            self.disordered = true;
        } else {
            self.latest_time = v.time;
        }
        let rank: Rank = (v.time, position);
        if v.event.is_success() {
            self.add_success(v, build, rank);
            return;
        }
        if v.event == Event::UpdateDcv {
            if self.current.as_ref().is_some_and(|(r, _)| *r > rank) {
                return;
            }
            let take_last = newer(&self.last, &rank);
            let i = self.keep(build());
            if take_last {
                self.last = Some((rank, i));
            }
            self.dcv_updates.push((rank, i));
            return;
        }
        if v.event == Event::Status {
            // A collect that failed says nothing about the certificate; it is the key's
            // last row all the same (its message is shown).
            let take_status = v.has_status && newer(&self.status, &rank);
            let take_last = newer(&self.last, &rank);
            if take_status || take_last {
                let i = self.keep(build());
                if take_status {
                    self.status = Some((rank, i));
                }
                if take_last {
                    self.last = Some((rank, i));
                }
            }
            return;
        }
        // A write-ahead, failed or unknown row.
        if let Some(s) = self.successes.iter().find(|s| s.ref_id() == v.ref_id) {
            if rank > s.rank {
                self.disordered = true;
            }
            return;
        }
        if self.current.as_ref().is_some_and(|(r, _)| *r > rank) {
            // Older than the key's latest success: a call that was closed since.
            return;
        }
        let take_last = newer(&self.last, &rank);
        let i = self.keep(build());
        if take_last {
            self.last = Some((rank, i));
        }
        self.pending.push((rank, i));
    }

    fn add_success(&mut self, v: View<'_>, build: impl FnOnce() -> Kept, rank: Rank) {
        if let Some(s) = self.successes.iter().find(|s| s.ref_id() == v.ref_id) {
            if s.cert_id() != v.cert_id {
                // One call, two certificates: the ledger contradicts itself.
                self.disordered = true;
            } else if s.event == v.event && s.rank <= rank {
                // The same success again (a row repeated by a merge): nothing new, except
                // that it may be the key's last row.
                if newer(&self.last, &rank) {
                    let i = self.keep(build());
                    self.last = Some((rank, i));
                }
                return;
            }
        }
        // Rows of this refId read before it are superseded by it.
        let rows = &self.rows;
        let mut disordered = false;
        self.pending.retain(|(r, i)| {
            let same = rows[*i].ref_id() == v.ref_id;
            if same && *r > rank {
                disordered = true;
            }
            !same
        });
        self.disordered |= disordered;
        self.successes.push(Success {
            ids: [v.ref_id, v.cert_id].concat().into(),
            split: u32::try_from(v.ref_id.len()).unwrap_or(0),
            event: v.event,
            rank,
        });
        let event = v.event;
        let take_current = newer(&self.current, &rank);
        let take_last = newer(&self.last, &rank);
        let take_placed = event == Event::Placed && newer(&self.placed, &rank);
        let take_made = matches!(event, Event::Placed | Event::Renewed | Event::Replaced)
            && newer(&self.made, &rank);
        if !(take_current || take_last || take_placed || take_made) {
            return;
        }
        if take_current {
            // Calls ranked before the latest success are closed, and DCV updates of the
            // certificate before it are history.
            self.pending.retain(|(r, _)| *r > rank);
            self.dcv_updates.retain(|(r, _)| *r > rank);
        }
        let i = self.keep(build());
        if take_current {
            self.current = Some((rank, i));
        }
        if take_last {
            self.last = Some((rank, i));
        }
        if take_placed {
            self.placed = Some((rank, i));
        }
        if take_made {
            self.made = Some((rank, i));
        }
    }

    /// Keeps `row` in the place of a row no slot refers to any more, if there is one:
    /// a key holds a handful of rows however many it has.
    fn keep(&mut self, row: Kept) -> usize {
        match (0..self.rows.len()).find(|&i| !self.used(i)) {
            Some(free) => {
                self.rows[free] = row;
                free
            }
            None => {
                // A key keeps a handful of rows: grown one at a time, not doubled.
                self.rows.reserve_exact(1);
                self.rows.push(row);
                self.rows.len() - 1
            }
        }
    }

    /// Drops the rows no slot refers to and builds the others (`build` makes the row of
    /// a kept line). Called once the read ended, before [`Fold::state`].
    pub(super) fn finish(&mut self, build: impl Fn(&str) -> Row) {
        let mut i = 0;
        while i < self.rows.len() {
            if !self.used(i) {
                // Swap the last row in, and point its slots here.
                let last = self.rows.len() - 1;
                self.rows.swap_remove(i);
                if i != last {
                    self.renumber(last, i);
                }
                continue;
            }
            if let Kept::Line { line, .. } = &self.rows[i] {
                self.rows[i] = Kept::Row(Box::new(build(line)));
            }
            i += 1;
        }
        self.rows.shrink_to_fit();
        self.successes.shrink_to_fit();
        self.pending.shrink_to_fit();
        self.dcv_updates.shrink_to_fit();
    }

    fn renumber(&mut self, from: usize, to: usize) {
        for (_, j) in [
            &mut self.last,
            &mut self.current,
            &mut self.placed,
            &mut self.made,
            &mut self.status,
        ]
        .into_iter()
        .flatten()
        .chain(self.pending.iter_mut())
        .chain(self.dcv_updates.iter_mut())
        {
            if *j == from {
                *j = to;
            }
        }
    }

    fn used(&self, i: usize) -> bool {
        [
            &self.last,
            &self.current,
            &self.placed,
            &self.made,
            &self.status,
        ]
        .into_iter()
        .flatten()
        .any(|(_, j)| *j == i)
            || self.pending.iter().any(|(_, j)| *j == i)
            || self.dcv_updates.iter().any(|(_, j)| *j == i)
    }

    fn row(&self, i: usize) -> &Row {
        match self.rows.get(i) {
            Some(Kept::Row(r)) => r,
            _ => &UNBUILT,
        }
    }

    pub(super) fn state(&self) -> KeyState<'_> {
        let row = |slot: &Option<(Rank, usize)>| slot.as_ref().map(|(_, i)| self.row(*i));
        let latest_pending = self.pending.iter().max_by(|a, b| a.0.cmp(&b.0));
        let last_op = match (latest_pending, &self.current) {
            (Some((p, i)), Some((c, _))) if p > c => Some(self.row(*i)),
            (Some((_, i)), None) => Some(self.row(*i)),
            (_, current) => row(current),
        };
        let mut opened = self
            .pending
            .iter()
            .filter(|(_, i)| self.row(*i).event.is_write_ahead())
            .max_by(|a, b| a.0.cmp(&b.0));
        // A renewal, reissue or replacement refused because of the state of the order or
        // certificate (-5, -7, -8) is decided again from what `refresh` found since.
        if let (Some((lr, li)), Some((sr, _)), Some((_, oi))) =
            (latest_pending, &self.status, opened)
        {
            let last = self.row(*li);
            if last.event == Event::Failed
                && last.code.is_some_and(super::is_state_refusal)
                && sr > lr
                && self.row(*oi).event != Event::Submitting
            {
                opened = None;
            }
        }
        let count = |event: Event| {
            let mut refs: Vec<&str> = self
                .successes
                .iter()
                .filter(|s| s.event == event)
                .map(Success::ref_id)
                .collect();
            refs.sort_unstable();
            refs.dedup();
            u32::try_from(refs.len()).unwrap_or(u32::MAX)
        };
        let mut state = KeyState {
            last: row(&self.last).unwrap_or(&UNBUILT),
            last_op,
            opened: opened.map(|(_, i)| self.row(*i)),
            attempts: self.attempts,
            placed: row(&self.placed),
            current: row(&self.current),
            made: row(&self.made),
            status: row(&self.status),
            renewals: count(Event::Renewed),
            reissues: count(Event::Reissued),
            replacements: count(Event::Replaced),
            // DCV updates of a certificate the ledger has no row making: rows were lost.
            disordered: self.disordered
                || (self.current.is_none()
                    && self.status.is_none()
                    && !self.dcv_updates.is_empty()),
            dcv_updates: DcvUpdates { fold: self },
        };
        match (state.current, state.status) {
            // What collect said of an earlier certificate is not this one's status.
            (Some(c), Some(st)) if st.cert_id != c.cert_id => state.status = None,
            // Known only by its status: a certificate adopted with `renewalOf`.
            (None, Some(st)) if !st.cert_id.is_empty() => state.current = Some(st),
            _ => {}
        }
        state
    }

    /// Whether every kept row is built (see [`Fold::finish`]).
    pub(super) fn is_built(&self) -> bool {
        !self.forgotten && self.rows.iter().all(|k| matches!(k, Kept::Row(_)))
    }

    /// Drops the kept rows (the key stays known; its state is not asked for).
    pub(super) fn forget_rows(&mut self) {
        self.rows = Vec::new();
        self.pending = Vec::new();
        self.dcv_updates = Vec::new();
        self.last = None;
        self.current = None;
        self.placed = None;
        self.made = None;
        self.status = None;
        self.forgotten = true;
    }

    /// Whether any row was folded in.
    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty() && !self.forgotten
    }
}

/// Whether `rank` is after the slot's (or the slot is empty).
fn newer(slot: &Option<(Rank, usize)>, rank: &Rank) -> bool {
    slot.as_ref().is_none_or(|(r, _)| rank > r)
}

/// Where a key stands according to the ledger.
#[derive(Clone, Copy, Debug)]
pub struct KeyState<'r> {
    /// Its last row.
    pub last: &'r Row,
    /// Its last row about a call (anything but `status`).
    pub last_op: Option<&'r Row>,
    /// Its last write-ahead row (`submitting`, `renewing`, `reissuing`, `replacing`)
    /// since its last success.
    pub opened: Option<&'r Row>,
    /// The highest attempt number recorded.
    pub attempts: u32,
    /// Its `placed` row, if it has one.
    pub placed: Option<&'r Row>,
    /// The row naming the certificate in force: the last `placed`, `renewed`, `reissued`
    /// or `replaced` row, or for an adopted certificate its `status` row.
    pub current: Option<&'r Row>,
    /// The row of the call that made the certificate in force what it is (its key and
    /// names): the last `placed`, `renewed` or `replaced` row. A reissue keeps them.
    pub made: Option<&'r Row>,
    /// What collect last said of the certificate in force, if it was collected.
    pub status: Option<&'r Row>,
    /// Renewals recorded (distinct refIds).
    pub renewals: u32,
    /// Reissues recorded.
    pub reissues: u32,
    /// Replacements recorded.
    pub replacements: u32,
    /// The key's rows disagree (out of time order, a call recorded after its success, one
    /// call with two certIds): the API is asked by refId before anything is sent for it,
    /// even with `--trust-ledger`.
    pub disordered: bool,
    /// The `update-dcv` rows since the certificate in force was made.
    pub dcv_updates: DcvUpdates<'r>,
}

/// A key's `update-dcv` rows, oldest first.
#[derive(Clone, Copy)]
pub struct DcvUpdates<'r> {
    fold: &'r Fold,
}

impl std::fmt::Debug for DcvUpdates<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.rows()).finish()
    }
}

impl<'r> DcvUpdates<'r> {
    /// The rows, ranked (by time, then place in the file).
    pub fn rows(&self) -> impl Iterator<Item = &'r Row> + use<'r> {
        let fold = self.fold;
        let mut ranked: Vec<&(Rank, usize)> = fold.dcv_updates.iter().collect();
        ranked.sort_by_key(|(r, _)| *r);
        ranked.into_iter().map(move |(_, i)| fold.row(*i))
    }
}

impl KeyState<'_> {
    /// The call in progress: its write-ahead row, when no success has followed it (the
    /// call's outcome is unknown, or it failed).
    pub fn open_call(&self) -> Option<&Row> {
        let last = self.last_op?;
        (!last.event.is_success()).then_some(self.opened).flatten()
    }

    /// Whether the key holds no order at NicSRS as far as anyone can know: no certificate
    /// in force, and no call that might have placed one (at most refused placements).
    pub fn holds_no_order(&self) -> bool {
        self.current.is_none()
            && self.open_call().is_none_or(|open| {
                open.event == Event::Submitting
                    && self.last_op.is_some_and(|l| l.event == Event::Failed)
            })
    }
}
