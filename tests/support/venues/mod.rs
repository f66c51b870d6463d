pub mod bybit;
