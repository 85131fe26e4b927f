"""The lending app: members, their loans and their late-return fees."""
