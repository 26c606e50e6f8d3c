//! Model test: random operation sequences on a small pool of objects, in both flavours, checked
//! after every step against a plain reference model of counts, refs, ownership and deaths.
//!
//! The model predicts, after each step: whether every object and every `Weak` is alive (and its
//! strong count), each held `WeakRef`'s liveness and `has_callback`, `getweakrefcount` and the
//! order of `getweakrefs`, and the exact event log. Per SPEC "weakref-core", a death logs
//! `Dropped(id)` (step 2, the value's `Drop`) and then the callbacks of the refs that existed at
//! the instant of death, newest registered first (step 3). A death caused while another is being
//! processed (a value's `Drop` dropping its child, a callback dropping the object it owns, drops
//! inside `defer_deaths`) has its step 1 at once and its steps 2–4 queued behind the current
//! one; the queue is first in, first out.
//!
//! Ownership edges: an object's value may own one `Obj` of another object (its child; dropping
//! the value drops it), and a callback may own one `Obj` (dropped when the callback runs, or when
//! its ref is dropped while the referent is alive, which cancels the callback). Value edges never
//! form a cycle, and every ref is held by the test, so the teardown (drop every held `Obj`, then
//! every ref) kills every object: nothing leaks, which Miri checks.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use proptest::prelude::*;

/// Objects created per case at most (the pool; dead objects' slots are reused).
const MAX_OBJECTS: usize = if cfg!(miri) { 5 } else { 10 };
/// Operations per case at most.
const MAX_OPS: usize = if cfg!(miri) { 20 } else { 64 };

fn config() -> ProptestConfig {
    let config = ProptestConfig {
        cases: if cfg!(miri) { 8 } else { 256 },
        failure_persistence: None,
        ..Default::default()
    };
    if cfg!(miri) {
        // The default ChaCha generator alone costs Miri most of a minute here; XorShift a few
        // seconds.
        ProptestConfig {
            rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
            ..config
        }
    } else {
        config
    }
}

/// What the values' `Drop`s and the callbacks write to the shared log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// The value of object `id` was dropped.
    Dropped(usize),
    /// The callback of ref `r` ran; `ref_alive` is whether its ref still read alive (never).
    Callback { r: usize, ref_alive: bool },
}

/// The shared event log (`Send + Sync`, so `sync` callbacks can hold it).
#[derive(Clone, Default, Debug)]
struct Log(Arc<Mutex<Vec<Event>>>);

impl Log {
    fn push(&self, event: Event) {
        lock(&self.0).push(event);
    }

    fn events(&self) -> Vec<Event> {
        lock(&self.0).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A generated operation. Its `usize`s select among what exists when it is applied (modulo the
/// number of candidates); an operation without a candidate is skipped.
#[derive(Clone, Copy, Debug)]
enum Op {
    New,
    Clone(usize),
    DropStrong(usize),
    Downgrade(usize),
    Upgrade(usize),
    /// A ref with a callback on one object; the callback may own an `Obj` of another (or the same).
    RefWithCallback {
        obj: usize,
        owns: Option<usize>,
    },
    SharedRef(usize),
    DropRef(usize),
    /// Move one of the test's `Obj`s of `child` into `parent`'s value (replacing its old child).
    Own {
        parent: usize,
        child: usize,
    },
    /// Move `parent`'s child `Obj` back to the test.
    Disown(usize),
    /// Drop one `Obj` of each of two objects inside `defer_deaths`.
    DeferDrops(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let sel = || 0usize..64;
    prop_oneof![
        3 => Just(Op::New),
        2 => sel().prop_map(Op::Clone),
        4 => sel().prop_map(Op::DropStrong),
        2 => sel().prop_map(Op::Downgrade),
        2 => sel().prop_map(Op::Upgrade),
        3 => (sel(), prop::option::of(sel()))
            .prop_map(|(obj, owns)| Op::RefWithCallback { obj, owns }),
        2 => sel().prop_map(Op::SharedRef),
        3 => sel().prop_map(Op::DropRef),
        3 => (sel(), sel()).prop_map(|(parent, child)| Op::Own { parent, child }),
        1 => sel().prop_map(Op::Disown),
        2 => (sel(), sel()).prop_map(|(a, b)| Op::DeferDrops(a, b)),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=MAX_OPS)
}

/// An operation resolved to concrete ids, with what the real side must observe while doing it.
#[derive(Clone, Copy, Debug)]
enum Step {
    New {
        obj: usize,
    },
    Clone {
        obj: usize,
    },
    DropStrong {
        obj: usize,
    },
    Downgrade {
        obj: usize,
    },
    /// `alive`: whether the upgrade succeeds (then the test keeps the new `Obj`).
    Upgrade {
        weak: usize,
        obj: usize,
        alive: bool,
    },
    RefWithCallback {
        r: usize,
        obj: usize,
        owns: Option<usize>,
    },
    /// `shares_with`: a held ref the new one must be `ptr_eq` to (the shared one), if any.
    SharedRef {
        r: usize,
        obj: usize,
        shares_with: Option<usize>,
    },
    DropRef {
        r: usize,
    },
    Own {
        parent: usize,
        child: usize,
    },
    Disown {
        parent: usize,
        child: usize,
    },
    DeferDrops {
        a: usize,
        b: Option<usize>,
    },
}

#[derive(Debug)]
struct MObj {
    alive: bool,
    /// Every `Obj` to it: the test's, values', callbacks'.
    count: usize,
    /// The test's `Obj`s.
    held: usize,
    /// The object whose `Obj` its value owns.
    child: Option<usize>,
}

#[derive(Debug)]
struct MRef {
    obj: usize,
    /// The test still holds its handle.
    held: bool,
    /// `WeakRef::new` (callback-less, shared) rather than `with_callback`.
    shared: bool,
    /// Its callback has neither run nor been cancelled.
    pending: bool,
    /// The object whose `Obj` its callback owns, until the callback runs or is dropped.
    owns: Option<usize>,
}

/// The reference model.
#[derive(Debug, Default)]
struct Model {
    objs: Vec<MObj>,
    refs: Vec<MRef>,
    /// The object of each `Weak` made by `Downgrade`.
    weaks: Vec<usize>,
    log: Vec<Event>,
    /// Deaths being processed or deferred (0: none): deaths wait in the queue while it is > 0.
    depth: usize,
    /// Steps 2–4 waiting: the object and the refs whose callbacks were taken at its death.
    queue: VecDeque<(usize, Vec<usize>)>,
}

impl Model {
    /// Ids of the objects the test holds an `Obj` of.
    fn held_objs(&self) -> Vec<usize> {
        (0..self.objs.len())
            .filter(|&i| self.objs[i].held > 0)
            .collect()
    }

    fn held_refs(&self) -> Vec<usize> {
        (0..self.refs.len())
            .filter(|&k| self.refs[k].held)
            .collect()
    }

    /// Whether `to` is reachable from `from` through value (child) edges.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut at = Some(from);
        while let Some(i) = at {
            if i == to {
                return true;
            }
            at = self.objs[i].child;
        }
        false
    }

    /// Resolves a generated operation against the current state.
    fn resolve(&self, op: Op) -> Option<Step> {
        let held = self.held_objs();
        let pick = |sel: usize| (!held.is_empty()).then(|| held[sel % held.len()]);
        Some(match op {
            Op::New => {
                if self.objs.len() >= MAX_OBJECTS {
                    return None;
                }
                Step::New {
                    obj: self.objs.len(),
                }
            }
            Op::Clone(s) => Step::Clone { obj: pick(s)? },
            Op::DropStrong(s) => Step::DropStrong { obj: pick(s)? },
            Op::Downgrade(s) => Step::Downgrade { obj: pick(s)? },
            Op::Upgrade(s) => {
                if self.weaks.is_empty() {
                    return None;
                }
                let weak = s % self.weaks.len();
                let obj = self.weaks[weak];
                Step::Upgrade {
                    weak,
                    obj,
                    alive: self.objs[obj].alive,
                }
            }
            Op::RefWithCallback { obj, owns } => {
                let obj = pick(obj)?;
                // Moving the only held `Obj` of `obj` into the callback would leave none to
                // register the ref with.
                let owns = owns
                    .and_then(pick)
                    .filter(|&j| j != obj || self.objs[obj].held >= 2);
                Step::RefWithCallback {
                    r: self.refs.len(),
                    obj,
                    owns,
                }
            }
            Op::SharedRef(s) => {
                let obj = pick(s)?;
                let shares_with = (0..self.refs.len())
                    .find(|&k| self.refs[k].held && self.refs[k].shared && self.refs[k].obj == obj);
                Step::SharedRef {
                    r: self.refs.len(),
                    obj,
                    shares_with,
                }
            }
            Op::DropRef(s) => {
                let refs = self.held_refs();
                if refs.is_empty() {
                    return None;
                }
                Step::DropRef {
                    r: refs[s % refs.len()],
                }
            }
            Op::Own { parent, child } => {
                let (parent, child) = (pick(parent)?, pick(child)?);
                if self.reaches(child, parent) {
                    return None; // a cycle of values would leak
                }
                Step::Own { parent, child }
            }
            Op::Disown(s) => {
                let owners: Vec<usize> = held
                    .iter()
                    .copied()
                    .filter(|&p| self.objs[p].child.is_some())
                    .collect();
                if owners.is_empty() {
                    return None;
                }
                let parent = owners[s % owners.len()];
                Step::Disown {
                    parent,
                    child: self.objs[parent].child?,
                }
            }
            Op::DeferDrops(a, b) => {
                let a = pick(a)?;
                let b = pick(b).filter(|&b| b != a || self.objs[a].held >= 2);
                Step::DeferDrops { a, b }
            }
        })
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::New { obj } => {
                assert_eq!(obj, self.objs.len());
                self.objs.push(MObj {
                    alive: true,
                    count: 1,
                    held: 1,
                    child: None,
                });
            }
            Step::Clone { obj } => {
                self.objs[obj].held += 1;
                self.objs[obj].count += 1;
            }
            Step::DropStrong { obj } => {
                self.objs[obj].held -= 1;
                self.release(obj);
            }
            Step::Downgrade { obj } => self.weaks.push(obj),
            Step::Upgrade { obj, alive, .. } => {
                if alive {
                    self.objs[obj].held += 1;
                    self.objs[obj].count += 1;
                }
            }
            Step::RefWithCallback { r, obj, owns } => {
                assert_eq!(r, self.refs.len());
                if let Some(j) = owns {
                    self.objs[j].held -= 1; // moved into the callback: the count stays
                }
                self.refs.push(MRef {
                    obj,
                    held: true,
                    shared: false,
                    pending: true,
                    owns,
                });
            }
            Step::SharedRef { r, obj, .. } => {
                assert_eq!(r, self.refs.len());
                self.refs.push(MRef {
                    obj,
                    held: true,
                    shared: true,
                    pending: false,
                    owns: None,
                });
            }
            Step::DropRef { r } => {
                self.refs[r].held = false;
                if self.objs[self.refs[r].obj].alive && self.refs[r].pending {
                    // Unlinked while the referent lives: the callback never runs and is dropped.
                    self.refs[r].pending = false;
                    if let Some(j) = self.refs[r].owns.take() {
                        self.release(j);
                    }
                }
            }
            Step::Own { parent, child } => {
                self.objs[child].held -= 1; // moved into the value: the count stays
                let old = self.objs[parent].child.replace(child);
                if let Some(old) = old {
                    self.release(old);
                }
            }
            Step::Disown { parent, child } => {
                assert_eq!(self.objs[parent].child.take(), Some(child));
                self.objs[child].held += 1;
            }
            Step::DeferDrops { a, b } => {
                self.depth += 1;
                self.objs[a].held -= 1;
                self.release(a);
                if let Some(b) = b {
                    self.objs[b].held -= 1;
                    self.release(b);
                }
                if self.depth == 1 {
                    self.drain();
                }
                self.depth -= 1;
            }
        }
    }

    /// One `Obj` of `obj` is dropped.
    fn release(&mut self, obj: usize) {
        self.objs[obj].count -= 1;
        if self.objs[obj].count == 0 {
            self.die(obj);
        }
    }

    /// Step 1 at once; steps 2–4 now, or queued if a death is being processed or deferred.
    fn die(&mut self, obj: usize) {
        self.objs[obj].alive = false;
        let taken: Vec<usize> = (0..self.refs.len())
            .filter(|&k| self.refs[k].obj == obj && self.refs[k].held && self.refs[k].pending)
            .collect();
        for &k in &taken {
            self.refs[k].pending = false;
        }
        self.queue.push_back((obj, taken));
        if self.depth == 0 {
            self.depth = 1;
            self.drain();
            self.depth = 0;
        }
    }

    fn drain(&mut self) {
        while let Some((obj, taken)) = self.queue.pop_front() {
            // Step 2: the value's `Drop` logs, then drops its child.
            self.log.push(Event::Dropped(obj));
            if let Some(child) = self.objs[obj].child.take() {
                self.release(child);
            }
            // Step 3: callbacks newest first; each logs, then drops what it owns.
            for &k in taken.iter().rev() {
                self.log.push(Event::Callback {
                    r: k,
                    ref_alive: false,
                });
                if let Some(j) = self.refs[k].owns.take() {
                    self.release(j);
                }
            }
        }
    }

    /// `getweakrefcount`: the callback refs held, plus one for the shared ref if any handle to
    /// it is held.
    fn weakref_count(&self, obj: usize) -> usize {
        let of_obj = || self.refs.iter().filter(|r| r.obj == obj && r.held);
        of_obj().filter(|r| !r.shared).count() + usize::from(of_obj().any(|r| r.shared))
    }

    /// `getweakrefs`, as ids of held refs: the shared one first, then the rest newest first.
    fn weakrefs(&self, obj: usize) -> Vec<usize> {
        let of_obj: Vec<usize> = (0..self.refs.len())
            .filter(|&k| self.refs[k].obj == obj && self.refs[k].held)
            .collect();
        let shared = of_obj.iter().copied().find(|&k| self.refs[k].shared);
        shared
            .into_iter()
            .chain(
                of_obj
                    .iter()
                    .rev()
                    .copied()
                    .filter(|&k| !self.refs[k].shared),
            )
            .collect()
    }

    /// The steps that drop everything the test holds: every `Obj` (by object id), then every ref.
    fn teardown(&self) -> Vec<Step> {
        let objs = (0..self.objs.len())
            .flat_map(|obj| std::iter::repeat_n(Step::DropStrong { obj }, self.objs[obj].held));
        objs.chain(self.held_refs().into_iter().map(|r| Step::DropRef { r }))
            .collect()
    }
}

/// The test body, once per flavour.
macro_rules! model_test {
    ($flavour:ident) => {
        mod $flavour {
            use proptest::prelude::*;
            use weakref_core::$flavour::{
                defer_deaths, getweakrefcount, getweakrefs, Obj, Weak, WeakRef,
            };

            use super::{config, lock, ops, Event, Log, Model, Step};

            /// A pool object: logs `Dropped(id)` when its value is dropped, then drops its child.
            struct Node {
                id: usize,
                log: Log,
                child: std::sync::Mutex<Option<Obj<Node>>>,
            }

            impl Drop for Node {
                fn drop(&mut self) {
                    self.log.push(Event::Dropped(self.id));
                    let child = self
                        .child
                        .get_mut()
                        .unwrap_or_else(|p| p.into_inner())
                        .take();
                    drop(child);
                }
            }

            /// The real side: every handle, indexed by the model's ids.
            #[derive(Default)]
            struct Real {
                log: Log,
                /// The test's `Obj`s, by object id.
                held: Vec<Vec<Obj<Node>>>,
                /// One `Weak` per object, by object id.
                probes: Vec<Weak<Node>>,
                /// The `Weak`s made by `Downgrade`.
                weaks: Vec<Weak<Node>>,
                /// The test's refs, by ref id (`None` once dropped).
                refs: Vec<Option<WeakRef<Node>>>,
            }

            impl Real {
                fn one(&self, obj: usize) -> &Obj<Node> {
                    &self.held[obj][0]
                }

                fn take(&mut self, obj: usize) -> Obj<Node> {
                    self.held[obj]
                        .pop()
                        .expect("the model says the test holds one")
                }

                fn apply(&mut self, step: Step) -> Result<(), TestCaseError> {
                    match step {
                        Step::New { obj } => {
                            let node = Node {
                                id: obj,
                                log: self.log.clone(),
                                child: std::sync::Mutex::new(None),
                            };
                            let handle = Obj::new(node);
                            self.probes.push(Obj::downgrade(&handle));
                            self.held.push(vec![handle]);
                        }
                        Step::Clone { obj } => {
                            let handle = self.one(obj).clone();
                            self.held[obj].push(handle);
                        }
                        Step::DropStrong { obj } => drop(self.take(obj)),
                        Step::Downgrade { obj } => {
                            let weak = Obj::downgrade(self.one(obj));
                            self.weaks.push(weak);
                        }
                        Step::Upgrade { weak, obj, alive } => {
                            let got = self.weaks[weak].upgrade();
                            prop_assert_eq!(got.is_some(), alive, "upgrade of weak {}", weak);
                            if let Some(handle) = got {
                                prop_assert_eq!(handle.id, obj);
                                self.held[obj].push(handle);
                            }
                        }
                        Step::RefWithCallback { r, obj, owns } => {
                            let owned = owns.map(|j| self.take(j));
                            let log = self.log.clone();
                            let new_ref =
                                WeakRef::with_callback(self.one(obj), move |me: &WeakRef<Node>| {
                                    let ref_alive = me.is_alive() || me.get().is_some();
                                    log.push(Event::Callback { r, ref_alive });
                                    drop(owned);
                                });
                            prop_assert!(new_ref.has_callback());
                            self.refs.push(Some(new_ref));
                        }
                        Step::SharedRef {
                            r,
                            obj,
                            shares_with,
                        } => {
                            let new_ref = WeakRef::new(self.one(obj));
                            prop_assert!(!new_ref.has_callback());
                            let shared =
                                shares_with.map(|s| self.refs[s].as_ref().expect("held ref"));
                            if let Some(shared) = shared {
                                prop_assert!(
                                    WeakRef::ptr_eq(shared, &new_ref),
                                    "new shared ref {} is shared",
                                    r
                                );
                            }
                            // Same ref object as exactly the handles of the shared one.
                            for (k, held) in self.refs.iter().enumerate() {
                                let Some(held) = held else { continue };
                                let expected =
                                    shared.is_some_and(|shared| WeakRef::ptr_eq(shared, held));
                                prop_assert_eq!(
                                    WeakRef::ptr_eq(held, &new_ref),
                                    expected,
                                    "new shared ref {} ptr_eq ref {}",
                                    r,
                                    k
                                );
                            }
                            self.refs.push(Some(new_ref));
                        }
                        Step::DropRef { r } => drop(self.refs[r].take()),
                        Step::Own { parent, child } => {
                            let handle = self.take(child);
                            let old = lock(&self.one(parent).child).replace(handle);
                            drop(old); // with no lock held
                        }
                        Step::Disown { parent, child } => {
                            let handle = lock(&self.one(parent).child).take();
                            let handle = handle.expect("the model says it has a child");
                            prop_assert_eq!(handle.id, child);
                            self.held[child].push(handle);
                        }
                        Step::DeferDrops { a, b } => {
                            let first = self.take(a);
                            let second = b.map(|b| self.take(b));
                            defer_deaths(|| {
                                drop(first);
                                drop(second);
                            });
                        }
                    }
                    Ok(())
                }

                /// Compares everything observable with the model.
                fn check(&self, model: &Model) -> Result<(), TestCaseError> {
                    prop_assert_eq!(self.log.events(), model.log.clone(), "event log");
                    for (obj, m) in model.objs.iter().enumerate() {
                        let probe = self.probes[obj];
                        prop_assert_eq!(probe.is_alive(), m.alive, "object {} alive", obj);
                        prop_assert_eq!(
                            probe.upgrade().is_some(),
                            m.alive,
                            "object {} upgrades",
                            obj
                        );
                        let count = if m.alive { m.count } else { 0 };
                        prop_assert_eq!(probe.strong_count(), count, "object {} strong_count", obj);
                        prop_assert_eq!(self.held[obj].len(), m.held);
                        let Some(handle) = self.held[obj].first() else {
                            continue;
                        };
                        prop_assert_eq!(handle.id, obj);
                        prop_assert_eq!(Obj::strong_count(handle), m.count, "object {}", obj);
                        let wrc = model.weakref_count(obj);
                        prop_assert_eq!(getweakrefcount(handle), wrc, "getweakrefcount({})", obj);
                        let listed = getweakrefs(handle);
                        let expected = model.weakrefs(obj);
                        prop_assert_eq!(listed.len(), expected.len(), "getweakrefs({})", obj);
                        for (got, &k) in listed.iter().zip(&expected) {
                            let want = self.refs[k].as_ref().expect("held ref");
                            prop_assert!(WeakRef::ptr_eq(got, want), "getweakrefs({}) order", obj);
                        }
                        let child = lock(&handle.child).as_ref().map(|c| c.id);
                        prop_assert_eq!(child, m.child, "child of {}", obj);
                    }
                    for (w, &obj) in model.weaks.iter().enumerate() {
                        let alive = model.objs[obj].alive;
                        let count = if alive { model.objs[obj].count } else { 0 };
                        prop_assert_eq!(self.weaks[w].is_alive(), alive, "weak {}", w);
                        prop_assert_eq!(self.weaks[w].strong_count(), count, "weak {}", w);
                        prop_assert_eq!(self.weaks[w], self.probes[obj]);
                    }
                    for (k, m) in model.refs.iter().enumerate() {
                        let real = self.refs[k].as_ref();
                        prop_assert_eq!(real.is_some(), m.held, "ref {} held", k);
                        let Some(real) = real else { continue };
                        let alive = model.objs[m.obj].alive;
                        prop_assert_eq!(real.is_alive(), alive, "ref {} alive", k);
                        prop_assert_eq!(real.get().is_some(), alive, "ref {} get", k);
                        prop_assert_eq!(
                            real.has_callback(),
                            alive && !m.shared,
                            "ref {} has_callback",
                            k
                        );
                        prop_assert_eq!(
                            real.downgrade(),
                            self.probes[m.obj],
                            "ref {} downgrade",
                            k
                        );
                    }
                    Ok(())
                }
            }

            fn run(ops: &[super::Op]) -> Result<(), TestCaseError> {
                let mut model = Model::default();
                let mut real = Real::default();
                for &op in ops {
                    let Some(step) = model.resolve(op) else {
                        continue;
                    };
                    model.apply(step);
                    real.apply(step)?;
                    real.check(&model)?;
                }
                for step in model.teardown() {
                    model.apply(step);
                    real.apply(step)?;
                    real.check(&model)?;
                }
                prop_assert!(
                    model.objs.iter().all(|m| !m.alive),
                    "teardown kills every object"
                );
                Ok(())
            }

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn matches_the_model(ops in ops()) {
                    run(&ops)?;
                }
            }
        }
    };
}

model_test!(unsync);
model_test!(sync);
