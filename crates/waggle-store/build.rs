//! `sqlx::migrate!` embeds the migrations when the crate compiles; without this a
//! migration added or changed later would not make cargo compile the crate again.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
