//! The tour: the seed tutorials' first examples (`seeds/000_*`, Russian, and `seeds/001_*`, Chinese) replayed in Rust.
//!
//! Run it from the workspace root with `cargo run --example tour`. Each section opens with a
//! header such as `== weakref.ref ==` and prints the lines the Python examples print, with the
//! same labels (`obj:`, `ref:`, `r():`, `deleting obj`, `callback(...)`). The output is the same
//! on every run apart from the addresses.
//!
//! Python → Rust, in one line each:
//! - a reference to an object → [`Obj<T>`](weakref_core::unsync::Obj); `del obj` → `drop(obj)`;
//! - `weakref.ref(obj)` → `WeakRef::new(&obj)`; `r()` → `r.get()` (`Option<Obj<T>>`, `None` for `None`);
//! - `weakref.ref(obj, callback)` → `WeakRef::with_callback(&obj, callback)`;
//! - `__del__` → `impl Drop`; `'{}'.format(self)` → `Display` / `Debug`.
//!
//! Most sections use the single-thread flavour (`weakref_core::unsync`, like `Rc`); the last one
//! shows the thread-safe flavour (`weakref_core::sync`, like `Arc`) across a thread.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use weakref_core::unsync::{getweakrefcount, getweakrefs, Obj, ReferenceType, WeakMethod, WeakRef};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, flag] = args.as_slice() {
        if command == "atexit" {
            // `cargo run --example tour -- atexit 0|1`: the seed's `sys.argv[1]`.
            finalize_atexit(flag != "0");
            return;
        }
    }
    weakref_ref();
    weakref_ref_with_callback();
    weakref_finalize_on_death();
    atexit_both_ways();
    weakref_proxy();
    getweakrefcount_and_getweakrefs();
    weak_method();
    cache_of_weak_refs();
    weak_value_dictionary();
    cache_manager_with_weak_value_map();
    sync_across_a_thread();
}

/// The seeds' `ExpensiveObject`: its `Drop` is the Python `__del__`.
struct ExpensiveObject;

impl fmt::Display for ExpensiveObject {
    /// Python's default `repr`: the type and the address (the same one the refs print).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<ExpensiveObject at {:p}>", self)
    }
}

impl fmt::Debug for ExpensiveObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Drop for ExpensiveObject {
    fn drop(&mut self) {
        println!("(Deleting {self})");
    }
}

/// Seed 000, `weakref.ref`: the second `r()` gives `None`, since `obj` is gone by then.
fn weakref_ref() {
    println!("== weakref.ref ==");
    let obj = Obj::new(ExpensiveObject);
    let r = WeakRef::new(&obj);

    println!("obj: {obj}");
    println!("ref: {r:?}");
    println!("r(): {:?}", r.get());

    println!("deleting obj");
    drop(obj);
    println!("r(): {:?}", r.get());
    println!();
}

/// Called when the referent is deleted (seed 000's `callback`): it gets the now dead ref.
fn callback(reference: &WeakRef<ExpensiveObject>) {
    println!("callback({reference:?})");
}

/// Seed 000, callbacks: the callback runs after the value's `Drop` (`__del__`), with its ref dead.
fn weakref_ref_with_callback() {
    println!("== weakref.ref with a callback ==");
    let obj = Obj::new(ExpensiveObject);
    let r = WeakRef::with_callback(&obj, callback);

    println!("obj: {obj}");
    println!("ref: {r:?}");
    println!("r(): {:?}", r.get());

    println!("deleting obj");
    drop(obj);
    println!("r(): {:?}", r.get());
    println!();
}

/// Seed 000, `weakref.finalize`: the finalizer runs when the object dies, even though nobody
/// keeps the `Finalizer` handle.
fn weakref_finalize_on_death() {
    println!("== weakref.finalize ==");
    let obj = Obj::new(ExpensiveObject);
    let extra = "extra argument";
    // `weakref.finalize(obj, on_finalize, 'extra argument')`: arguments are captured.
    let _ = weakref_finalize::unsync::finalize(&obj, move || println!("on_finalize(({extra:?},))"));
    println!("deleting obj");
    drop(obj);
    println!();
}

/// Seed 000, `atexit`: a finalizer whose object is still alive at exit runs then, unless its
/// `atexit` flag is false. The seed picks the flag with `sys.argv[1]`; the tour runs itself
/// both ways as a child process and shows what each printed.
fn atexit_both_ways() {
    println!("== finalize atexit ==");
    for flag in ["1", "0"] {
        println!("$ tour atexit {flag}");
        let child = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .args(["atexit", flag])
                .output()
        });
        match child {
            Ok(output) => print!("{}", String::from_utf8_lossy(&output.stdout)),
            Err(error) => println!("(could not run the tour as a child process: {error})"),
        }
    }
    println!();
}

/// The child of `atexit_both_ways`: `f.atexit = bool(int(sys.argv[1]))`, then exit with the
/// object still alive.
fn finalize_atexit(atexit: bool) {
    let obj = Obj::new(ExpensiveObject);
    let f = weakref_finalize::unsync::finalize(&obj, || println!("on_finalize() at exit"));
    f.set_atexit(atexit);
    println!("f.atexit = {}", f.atexit());
    println!("pending finalizers: {}", weakref_finalize::pending());
    println!("exiting");
    // The object stays alive until the process ends: its finalizer runs at exit, if atexit.
    std::mem::forget(obj);
}

/// Seeds 000 and 001, `weakref.proxy`: the proxy is used as the object itself; after the
/// object is gone, using it raises `ReferenceError`.
fn weakref_proxy() {
    use weakref_proxy::unsync::Proxy;

    println!("== weakref.proxy ==");
    let obj = Obj::new(Man::new("My Object"));
    let r = WeakRef::new(&obj);
    let p = Proxy::new(&obj);
    println!("via obj: {}", obj.name);
    println!("via ref: {}", r.get().expect("alive").name);
    // Attribute access through the proxy (`Deref`). A dereferenced handle pins the value's
    // storage until it is dropped, so this reads through a short-lived clone.
    println!("via proxy: {}", p.clone().name);
    println!("{p:?}");
    drop(obj);
    // Python raises ReferenceError here; `p.name` would panic with the same message.
    match p.try_get() {
        Ok(obj) => println!("via proxy: {}", obj.name),
        Err(error) => println!("via proxy: ReferenceError: {error}"),
    }
    println!("{p:?}");
    println!();
}

/// Seed 001's `Man`.
struct Man {
    name: String,
}

impl Man {
    fn new(name: &str) -> Self {
        Man {
            name: name.to_owned(),
        }
    }

    /// `def test(self): print self.name`
    fn test(&self) {
        println!("{}", self.name);
    }

    /// A method of one argument, for `WeakMethod::call`.
    fn greet(&self, other: &str) -> String {
        format!("{} greets {other}", self.name)
    }
}

/// Seed 001, "创建弱引用" (creating weak references), then `getweakrefcount` / `getweakrefs`.
fn getweakrefcount_and_getweakrefs() {
    println!("== getweakrefcount / getweakrefs ==");
    let o = Obj::new(Man::new("Jim"));
    // Python's sys.getrefcount(o) says 2: one more for its own argument. Rust counts exactly.
    println!("Obj::strong_count(&o): {}", Obj::strong_count(&o));
    let r: ReferenceType<Man> = WeakRef::new(&o); // weakref.ReferenceType is the type of ref
    println!(
        "Obj::strong_count(&o): {}  (a weak ref does not count)",
        Obj::strong_count(&o)
    );
    println!("r: {r:?}");
    if let Some(man) = r.get() {
        println!("r().name: {}", man.name);
    }

    let o2 = r.get().expect("o is alive");
    println!("o is o2: {}", Obj::ptr_eq(&o, &o2));
    println!("Obj::strong_count(&o): {}", Obj::strong_count(&o));

    println!("getweakrefcount(o): {}", getweakrefcount(&o));
    // Callback-less refs are shared, as in CPython: a second weakref.ref(o) is the same object.
    let again = WeakRef::new(&o);
    println!("weakref.ref(o) is r: {}", WeakRef::ptr_eq(&again, &r));
    println!("getweakrefcount(o): {}", getweakrefcount(&o));
    // A ref with a callback is a new ref object.
    let with_callback = WeakRef::with_callback(&o, |r: &WeakRef<Man>| println!("callback({r:?})"));
    println!("getweakrefcount(o): {}", getweakrefcount(&o));
    println!("getweakrefs(o): {:?}", getweakrefs(&o));

    drop(o); // o = None
    drop(o2); // o2 = None
    println!("r: {r:?}");
    println!("r() is None: {}", r.get().is_none());
    drop((again, with_callback));
    println!();
}

/// `weakref.WeakMethod`: a bound method that does not keep its receiver alive.
fn weak_method() {
    println!("== weakref.WeakMethod ==");
    let o = Obj::new(Man::new("Jim"));
    // wm = weakref.WeakMethod(o.test)
    let wm = WeakMethod::<Man, fn(&Man)>::new(&o, Man::test);
    let greet = WeakMethod::<Man, fn(&Man, &str) -> String>::new(&o, Man::greet);
    println!("wm: {wm:?}");
    print!("wm()(): ");
    if let Some((receiver, method)) = wm.get() {
        method(&receiver);
    }
    println!("greet.call(\"Bob\"): {:?}", greet.call("Bob"));
    println!("getweakrefcount(o): {}", getweakrefcount(&o));

    println!("del o");
    drop(o);
    println!("wm() is None: {}", wm.get().is_none());
    println!("greet.call(\"Bob\"): {:?}", greet.call("Bob"));
    println!();
}

/// Seed 001's `TestObject`, built only through the cache manager.
struct TestObject {
    name: String,
}

impl fmt::Display for TestObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<TestObject {:?} at {:p}>", self.name, self)
    }
}

impl Drop for TestObject {
    fn drop(&mut self) {
        println!("(Deleting {self})");
    }
}

/// Seed 000's `ExpensiveObject(name)` of the `WeakValueDictionary` demo.
struct Named(&'static str);

impl fmt::Debug for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExpensiveObject({})", self.0)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        println!("    (Deleting {self:?})");
    }
}

/// The two caches of seed 000's `demo(cache_factory)`: a plain dict and a
/// `WeakValueDictionary`.
trait Cache {
    fn put(&mut self, name: &'static str, value: &Obj<Named>);
    fn entries(&self) -> Vec<(&'static str, Obj<Named>)>;
}

impl Cache for BTreeMap<&'static str, Obj<Named>> {
    fn put(&mut self, name: &'static str, value: &Obj<Named>) {
        self.insert(name, value.clone());
    }
    fn entries(&self) -> Vec<(&'static str, Obj<Named>)> {
        self.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}

impl Cache for weakref_collections::unsync::WeakValueMap<&'static str, Named> {
    fn put(&mut self, name: &'static str, value: &Obj<Named>) {
        self.insert(name, value);
    }
    fn entries(&self) -> Vec<(&'static str, Obj<Named>)> {
        let mut entries: Vec<_> = self.iter().map(|(k, v)| (*k, v)).collect();
        entries.sort_by_key(|(k, _)| *k);
        entries
    }
}

/// Seed 000's `demo`: fill the cache, drop every other reference, see what the cache kept.
fn demo(label: &str, mut cache: impl Cache) {
    println!("CACHE TYPE: {label}");
    let mut all_refs = BTreeMap::new();
    for name in ["one", "two", "three"] {
        let o = Obj::new(Named(name));
        cache.put(name, &o);
        all_refs.insert(name, o);
    }
    println!("  all_refs = {all_refs:?}");
    println!();
    let names = |cache: &dyn Cache| cache.entries().iter().map(|(k, _)| *k).collect::<Vec<_>>();
    println!("  Before, cache contains: {:?}", names(&cache));
    for (name, value) in cache.entries() {
        println!("    {name} = {value:?}");
    }
    println!();
    println!("  Cleanup:");
    drop(all_refs);
    println!();
    println!("  After, cache contains: {:?}", names(&cache));
    for (name, value) in cache.entries() {
        println!("    {name} = {value:?}");
    }
    println!("  demo returning");
}

/// Seed 000, `WeakValueDictionary`: a plain map keeps the objects alive, the weak map lets
/// them go as soon as nobody else holds them.
fn weak_value_dictionary() {
    println!("== WeakValueDictionary ==");
    demo("dict", BTreeMap::new());
    println!();
    demo(
        "WeakValueDictionary",
        weakref_collections::unsync::WeakValueMap::new(),
    );
    println!();
}

/// Seed 001's `CacheManager` on a `WeakValueMap`: `get_object` returns the cached object while
/// someone holds it, and a new one after it died.
fn cache_manager_with_weak_value_map() {
    println!("== CacheManager on a WeakValueMap ==");
    let mut cache = weakref_collections::unsync::WeakValueMap::new();
    let mut get_object = |name: &str| {
        cache.get_or_insert_with(name.to_owned(), || {
            println!("  creating {name}");
            Obj::new(TestObject {
                name: name.to_owned(),
            })
        })
    };
    let a = get_object("a");
    let a_again = get_object("a");
    println!("  same object while held: {}", Obj::ptr_eq(&a, &a_again));
    drop((a, a_again));
    let a_new = get_object("a");
    println!("  after it died, a new one: {}", a_new.name);
    println!();
}

/// The cache of seed 001's `CacheManager`, built from `WeakRef` callbacks: seed 000 names
/// "removing the ref from a cache" as a use of callbacks. Each entry's callback removes it when
/// its object dies. (A `WeakValueMap` from weakref-collections does this for you.)
struct CacheManager {
    cache: Rc<RefCell<BTreeMap<String, WeakRef<TestObject>>>>,
}

impl CacheManager {
    fn new() -> Self {
        CacheManager {
            cache: Rc::new(RefCell::new(BTreeMap::new())),
        }
    }

    fn get_object(&self, name: &str) -> Obj<TestObject> {
        let hit = self.cache.borrow().get(name).and_then(WeakRef::get);
        if let Some(o) = hit {
            return o;
        }
        let o = Obj::new(TestObject {
            name: name.to_owned(),
        });
        // The callback holds the cache weakly (std's `Rc` weak pointer), so the cache, which
        // holds the refs and through them their callbacks, is not kept alive by a cycle.
        let cache = Rc::downgrade(&self.cache);
        let key = name.to_owned();
        let entry = WeakRef::with_callback(&o, move |dead: &WeakRef<TestObject>| {
            let Some(cache) = cache.upgrade() else { return };
            let mut cache = cache.borrow_mut();
            // Remove only this entry: a newer one under the same name must stay.
            if cache.get(&key).is_some_and(|r| WeakRef::ptr_eq(r, dead)) {
                cache.remove(&key);
                println!("callback: removed {key:?} from the cache");
            }
        });
        self.cache.borrow_mut().insert(name.to_owned(), entry);
        o
    }

    fn keys(&self) -> Vec<String> {
        self.cache.borrow().keys().cloned().collect()
    }
}

/// Seed 001, "缓存对象" (caching objects), with the entries removed by callbacks.
fn cache_of_weak_refs() {
    println!("== a cache of weak refs, cleaned by callbacks ==");
    let cache_manager = CacheManager::new();
    let cache1 = cache_manager.get_object("test");
    println!("cache1: {cache1}");
    let cache2 = cache_manager.get_object("test");
    println!("cache2: {cache2}");
    let cache3 = cache_manager.get_object("TEST");
    println!("cache3: {cache3}");
    println!("cache1 is cache2: {}", Obj::ptr_eq(&cache1, &cache2));
    println!("cache keys: {:?}", cache_manager.keys());

    println!("del cache1, cache2");
    drop(cache1);
    drop(cache2);
    println!("cache keys: {:?}", cache_manager.keys());
    println!("del cache3");
    drop(cache3);
    println!("cache keys: {:?}", cache_manager.keys());
    println!();
}

/// The `sync` flavour: the same API, `Send + Sync`; a callback runs on the thread whose drop
/// completes the death.
fn sync_across_a_thread() {
    use weakref_core::sync;

    println!("== sync: across a thread ==");
    let obj = sync::Obj::new(ExpensiveObject);
    let r = sync::WeakRef::with_callback(&obj, |reference: &sync::WeakRef<ExpensiveObject>| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        println!("callback({reference:?}) on thread {name:?}");
    });
    println!("obj: {obj}");
    println!("ref: {r:?}");

    let seen = r.clone();
    std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || println!("reader: r(): {:?}", seen.get()))
        .expect("spawn")
        .join()
        .expect("the reader thread");

    std::thread::Builder::new()
        .name("worker".into())
        .spawn(move || {
            println!("worker: deleting obj");
            drop(obj);
        })
        .expect("spawn")
        .join()
        .expect("the worker thread");
    println!("main: r(): {:?}", r.get());
}
