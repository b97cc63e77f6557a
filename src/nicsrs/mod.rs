//! NicSRS's API as its pages document it: the calls ([`client`]), the wire format and what
//! each reply means ([`wire`]), and how calls are paced and retried ([`pacer`]).

pub mod client;
pub mod pacer;
pub mod wire;
