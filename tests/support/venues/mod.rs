pub mod binance;
pub mod bybit;
