pub mod snake;
