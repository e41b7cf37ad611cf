// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Baran name registry
/// @notice Maps human-readable names to Baran account IDs. Names are first come, first served,
/// registered with commit–reveal so that a reveal seen in the mempool cannot be front-run, and
/// never re-registered. The Ed25519 signature in each record is checked OFF-chain by clients
/// (the EVM has no Ed25519 precompile), so the contract stores it verbatim.
contract Registry {
    struct Record {
        address owner;
        bytes20 accountId;
        bytes32 publicKey;
        bytes signature;
    }

    /// @notice How many blocks after its commit a commitment can still be revealed.
    uint256 public immutable maxCommitAge;

    /// @notice commitment => block number it was committed in (0 = unknown).
    mapping(bytes32 => uint256) public commitments;

    mapping(bytes32 => Record) private records; // keccak256(bytes(name)) => record
    mapping(bytes20 => string[]) private accountNames; // accountId => names, in registration order

    error InvalidName();
    error NameTaken();
    error CommitmentUnknown();
    error CommitmentTooNew();
    error CommitmentExpired();
    error InvalidSignatureLength();

    event Committed(bytes32 indexed commitment, address indexed sender, uint256 blockNumber);
    event NameRegistered(
        bytes32 indexed nameHash,
        bytes20 indexed accountId,
        address indexed owner,
        string name,
        bytes32 publicKey
    );

    constructor(uint256 maxCommitAge_) {
        require(maxCommitAge_ > 0, "maxCommitAge must be at least 1 block");
        maxCommitAge = maxCommitAge_;
    }

    /// @notice The commitment a registrant sends first. It binds the whole record (not only the
    /// owner) so that a reveal copied from the mempool cannot be replayed with another key.
    function makeCommitment(
        string calldata name,
        address owner,
        bytes32 secret,
        bytes20 accountId,
        bytes32 publicKey,
        bytes calldata signature
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(name, owner, secret, accountId, publicKey, signature));
    }

    /// @notice Records the block of a commitment. Re-sending a live commitment keeps its
    /// original block, so copying someone's commit changes nothing for them.
    function commit(bytes32 commitment) external {
        uint256 committedAt = commitments[commitment];
        if (committedAt != 0 && block.number <= committedAt + maxCommitAge) return;
        commitments[commitment] = block.number;
        emit Committed(commitment, msg.sender, block.number);
    }

    /// @notice Registers a name from an earlier commitment. Anyone may send it (a name server
    /// pays gas for its users): the commitment already binds owner and record.
    function reveal(
        string calldata name,
        address owner,
        bytes32 secret,
        bytes20 accountId,
        bytes32 publicKey,
        bytes calldata signature
    ) external {
        bytes32 commitment = makeCommitment(name, owner, secret, accountId, publicKey, signature);
        uint256 committedAt = commitments[commitment];
        if (committedAt == 0) revert CommitmentUnknown();
        if (block.number <= committedAt) revert CommitmentTooNew();
        if (block.number > committedAt + maxCommitAge) revert CommitmentExpired();
        if (!isValidName(name)) revert InvalidName();
        if (signature.length != 64) revert InvalidSignatureLength();
        bytes32 nameHash = keccak256(bytes(name));
        if (records[nameHash].owner != address(0)) revert NameTaken();

        delete commitments[commitment];
        records[nameHash] = Record(owner, accountId, publicKey, signature);
        accountNames[accountId].push(name);
        emit NameRegistered(nameHash, accountId, owner, name, publicKey);
    }

    /// @notice The record of a name; owner is address(0) when the name is free.
    function lookup(string calldata name)
        external
        view
        returns (address owner, bytes20 accountId, bytes32 publicKey, bytes memory signature)
    {
        Record storage r = records[keccak256(bytes(name))];
        return (r.owner, r.accountId, r.publicKey, r.signature);
    }

    /// @notice Every name registered with an account ID (anyone can add one: clients verify).
    function namesOf(bytes20 accountId) external view returns (string[] memory) {
        return accountNames[accountId];
    }

    /// @notice How many names were registered with an account ID.
    function nameCountOf(bytes20 accountId) external view returns (uint256) {
        return accountNames[accountId].length;
    }

    /// @notice A bounded slice of namesOf, so that junk registrations cannot make reads unbounded.
    function namesOfRange(bytes20 accountId, uint256 offset, uint256 limit)
        external
        view
        returns (string[] memory out)
    {
        string[] storage all = accountNames[accountId];
        if (offset >= all.length) return new string[](0);
        uint256 end = limit > all.length - offset ? all.length : offset + limit;
        out = new string[](end - offset);
        for (uint256 i = offset; i < end; i++) out[i - offset] = all[i];
    }

    /// @notice The name rule, kept identical to NAME_RULES in src/lib/name-rules.ts:
    /// 3–32 bytes of [a-z0-9_-], no leading or trailing '-'.
    function isValidName(string memory name) public pure returns (bool) {
        bytes memory b = bytes(name);
        if (b.length < 3 || b.length > 32) return false;
        if (b[0] == "-" || b[b.length - 1] == "-") return false;
        for (uint256 i = 0; i < b.length; i++) {
            bytes1 c = b[i];
            bool ok = (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "_" || c == "-";
            if (!ok) return false;
        }
        return true;
    }
}
