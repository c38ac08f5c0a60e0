//! Services: the servers customers bought, and their logs.
