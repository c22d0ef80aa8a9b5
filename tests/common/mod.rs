pub mod uai;
